// Package beir reads retrieval datasets in the BEIR layout — corpus.jsonl, queries.jsonl and
// qrels/<split>.tsv in one directory — as monolingual queries and candidates of the shape the LAReQA
// readers produce (dataset.Item), streaming the corpus so that no pass holds its texts in memory.
//
// Open checks everything first (every line of every file: JSON, field types, UTF-8, sizes, duplicate ids,
// judgements that name a missing query or document), so a broken dataset fails before any item is
// produced; Candidates then streams the corpus a second time and fails if the file changed in between.
package beir

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"xling/dataset"
	"xling/internal/confine"
)

// Options say what a BEIR directory holds (its files carry no language) and bound what is read.
type Options struct {
	Dataset      string // the name items carry; "" means "beir"
	Lang         string // ISO 639 code of every text; required
	Split        string // which qrels/<split>.tsv judges the queries; "" means "test"
	MaxTextBytes int    // per id, title or text; 0 means 64 KiB
	MaxLineBytes int    // per line of any file; 0 means 1 MiB
	MaxDocs      int    // documents in the corpus, and queries; 0 means 50 million
}

func (o Options) withDefaults() (Options, error) {
	if o.Dataset == "" {
		o.Dataset = "beir"
	}
	if o.Split == "" {
		o.Split = "test"
	}
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = 64 << 10
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
	if o.MaxDocs <= 0 {
		o.MaxDocs = 50_000_000
	}
	if !langCode.MatchString(o.Lang) {
		return o, fmt.Errorf("beir: language %q: want an ISO 639 code such as en or th", o.Lang)
	}
	if !splitName.MatchString(o.Split) {
		return o, fmt.Errorf("beir: split %q: want a name such as test or dev", o.Split)
	}
	return o, nil
}

var (
	langCode  = regexp.MustCompile(`^[a-z]{2,3}$`)
	splitName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

// Error says which line of which file broke which rule, about which field.
type Error struct {
	File  string
	Line  int
	Field string // "" when the line as a whole is wrong
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Reader is a checked BEIR directory.
type Reader struct {
	opts      Options
	corpus    string
	queries   []dataset.Item      // judged queries with at least one relevant document, in file order
	relevant  map[string][]string // document id -> ids of the queries it is relevant to
	docs      int
	corpusSum [sha256.Size]byte
}

// Open checks the BEIR dataset in dir.
func Open(dir string, opts Options) (*Reader, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// The directory is the user's choice; its files, links followed, must lie inside it.
	var paths [3]string
	for i, name := range []string{"corpus.jsonl", "queries.jsonl", filepath.Join("qrels", opts.Split+".tsv")} {
		if paths[i], err = confine.Path(dir, name); err != nil {
			return nil, fmt.Errorf("beir: %w", err)
		}
	}
	r := &Reader{opts: opts, corpus: paths[0], relevant: map[string][]string{}}
	texts, err := r.readQueries(paths[1])
	if err != nil {
		return nil, err
	}
	qrelsPath := paths[2]
	judged, err := r.readQrels(qrelsPath, texts)
	if err != nil {
		return nil, err
	}
	// Every judged document must exist: one pass over the corpus, keeping ids only.
	seen := map[string]int{}
	sum, err := r.scanCorpus(func(line int, id, _, _ string) error {
		if first, dup := seen[id]; dup {
			return &Error{File: r.corpus, Line: line, Field: "_id", Msg: fmt.Sprintf("duplicate id %q (first at line %d)", id, first)}
		}
		if len(seen) == opts.MaxDocs {
			return &Error{File: r.corpus, Line: line, Msg: fmt.Sprintf("more than %d documents", opts.MaxDocs)}
		}
		seen[id] = line
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range judged {
		if _, ok := seen[j.doc]; !ok {
			return nil, &Error{File: qrelsPath, Line: j.line, Field: "corpus-id", Msg: fmt.Sprintf("document %q is not in %s", j.doc, r.corpus)}
		}
	}
	r.docs, r.corpusSum = len(seen), sum
	return r, nil
}

// Queries are the judged queries that have at least one relevant document, in file order.
func (r *Reader) Queries() []dataset.Item { return slices.Clone(r.queries) }

// CorpusSHA256 is the hex SHA-256 of corpus.jsonl as Open read it, for a run's manifest.
func (r *Reader) CorpusSHA256() string { return hex.EncodeToString(r.corpusSum[:]) }

// Documents is the number of documents in the corpus.
func (r *Reader) Documents() int { return r.docs }

// Candidates streams the corpus as candidates: Text is the document's text, Context its title, QIDs the
// queries it is relevant to. It yields an error, and stops, if the corpus no longer matches what Open read.
func (r *Reader) Candidates() iter.Seq2[dataset.Item, error] {
	return func(yield func(dataset.Item, error) bool) {
		stopped := false
		sum, err := r.scanCorpus(func(_ int, id, title, text string) error {
			it := dataset.Item{Dataset: r.opts.Dataset, Lang: r.opts.Lang, Kind: dataset.Candidate,
				ID: r.opts.Lang + "/c/" + id, Text: text, Context: title, QIDs: r.relevant[id]}
			if !yield(it, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if stopped {
			return
		}
		if err == nil && sum != r.corpusSum {
			err = fmt.Errorf("beir: %s changed after it was checked", r.corpus)
		}
		if err != nil {
			yield(dataset.Item{}, err)
		}
	}
}

var errStop = errors.New("stopped")

// record is one line of corpus.jsonl or queries.jsonl. Fields stay raw so that a number where text
// belongs is reported as such.
type record struct {
	ID    json.RawMessage `json:"_id"`
	Title json.RawMessage `json:"title"`
	Text  json.RawMessage `json:"text"`
}

// lines calls fn with every line of path (1-based numbers), checking size and UTF-8, and returns the
// SHA-256 of the bytes read.
func (r *Reader) lines(path string, fn func(line int, b []byte) error) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, fmt.Errorf("beir: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	sc := bufio.NewScanner(io.TeeReader(f, h))
	sc.Buffer(make([]byte, 0, min(64<<10, r.opts.MaxLineBytes)), r.opts.MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if !utf8.Valid(b) {
			return sum, &Error{File: path, Line: n, Msg: "invalid UTF-8"}
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if err := fn(n, b); err != nil {
			return sum, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sum, &Error{File: path, Line: n + 1, Msg: fmt.Sprintf("line longer than %d bytes", r.opts.MaxLineBytes)}
		}
		return sum, fmt.Errorf("beir: %s: %w", path, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// parse decodes one JSON line; title is optional.
func (r *Reader) parse(path string, line int, b []byte) (id, title, text string, err error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", "", "", &Error{File: path, Line: line, Msg: "not a JSON object: " + err.Error()}
	}
	field := func(name string, raw json.RawMessage, required bool) (string, error) {
		if raw == nil || string(raw) == "null" {
			if required {
				return "", &Error{File: path, Line: line, Field: name, Msg: "missing"}
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", &Error{File: path, Line: line, Field: name, Msg: "not a string"}
		}
		if len(s) > r.opts.MaxTextBytes {
			return "", &Error{File: path, Line: line, Field: name, Msg: fmt.Sprintf("%d bytes, more than %d", len(s), r.opts.MaxTextBytes)}
		}
		if required && strings.IndexFunc(s, func(c rune) bool { return !unicode.IsSpace(c) }) < 0 {
			return "", &Error{File: path, Line: line, Field: name, Msg: "empty"}
		}
		// An escape can spell a lone surrogate, which encoding/json turns into U+FFFD without a word; a
		// replacement character the file did not spell itself means the text was not valid Unicode.
		if strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(raw, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`)) {
			return "", &Error{File: path, Line: line, Field: name, Msg: "invalid \\u escape (a lone surrogate)"}
		}
		return s, nil
	}
	if id, err = field("_id", rec.ID, true); err != nil {
		return
	}
	if title, err = field("title", rec.Title, false); err != nil {
		return
	}
	text, err = field("text", rec.Text, true)
	return
}

func (r *Reader) scanCorpus(fn func(line int, id, title, text string) error) ([sha256.Size]byte, error) {
	sum, err := r.lines(r.corpus, func(line int, b []byte) error {
		id, title, text, err := r.parse(r.corpus, line, b)
		if err != nil {
			return err
		}
		return fn(line, id, title, text)
	})
	if errors.Is(err, errStop) {
		return sum, nil
	}
	return sum, err
}

// readQueries returns every query's text by id.
func (r *Reader) readQueries(path string) (map[string]string, error) {
	texts, lines := map[string]string{}, map[string]int{}
	_, err := r.lines(path, func(line int, b []byte) error {
		id, _, text, err := r.parse(path, line, b)
		if err != nil {
			return err
		}
		if first, dup := lines[id]; dup {
			return &Error{File: path, Line: line, Field: "_id", Msg: fmt.Sprintf("duplicate id %q (first at line %d)", id, first)}
		}
		if len(texts) == r.opts.MaxDocs {
			return &Error{File: path, Line: line, Msg: fmt.Sprintf("more than %d queries", r.opts.MaxDocs)}
		}
		texts[id], lines[id] = text, line
		return nil
	})
	return texts, err
}

type judgement struct {
	doc  string
	line int
}

// readQrels reads qrels/<split>.tsv (query-id, corpus-id, integer score; an optional header line). A
// score above 0 makes the document relevant to the query; the queries with a relevant document become
// items, in the order the qrels first judge one relevant.
func (r *Reader) readQrels(path string, texts map[string]string) ([]judgement, error) {
	var judged []judgement
	pairs := map[[2]string]int{}
	var order []string
	positive := map[string]bool{}
	_, err := r.lines(path, func(line int, b []byte) error {
		cols := strings.Split(string(b), "\t")
		if line == 1 && len(cols) == 3 && cols[0] == "query-id" {
			return nil // the header BEIR writes
		}
		if len(cols) != 3 {
			return &Error{File: path, Line: line, Msg: fmt.Sprintf("%d tab-separated fields, want 3 (query-id, corpus-id, score)", len(cols))}
		}
		q, d := cols[0], cols[1]
		score, err := strconv.Atoi(strings.TrimSpace(cols[2]))
		if err != nil {
			return &Error{File: path, Line: line, Field: "score", Msg: fmt.Sprintf("%q is not an integer", cols[2])}
		}
		if _, ok := texts[q]; !ok {
			return &Error{File: path, Line: line, Field: "query-id", Msg: fmt.Sprintf("query %q is not in queries.jsonl", q)}
		}
		if d == "" || len(d) > r.opts.MaxTextBytes {
			return &Error{File: path, Line: line, Field: "corpus-id", Msg: "empty or too long"}
		}
		if first, dup := pairs[[2]string{q, d}]; dup {
			return &Error{File: path, Line: line, Msg: fmt.Sprintf("query %q and document %q judged twice (first at line %d)", q, d, first)}
		}
		pairs[[2]string{q, d}] = line
		judged = append(judged, judgement{doc: d, line: line})
		if score > 0 {
			if !positive[q] {
				positive[q] = true
				order = append(order, q)
			}
			r.relevant[d] = append(r.relevant[d], q)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, q := range order {
		r.queries = append(r.queries, dataset.Item{Dataset: r.opts.Dataset, Lang: r.opts.Lang, Kind: dataset.Query,
			ID: r.opts.Lang + "/q/" + q, QID: q, Text: texts[q]})
	}
	return judged, nil
}
