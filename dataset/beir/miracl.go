package beir

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FromMIRACL writes the BEIR layout for one language and split into dst, from MIRACL's own files under
// src as download.MIRACLFiles lays them out: corpus.jsonl from the corpus shards (docid becomes _id),
// queries.jsonl from the topics, and qrels/<split>.tsv from the TREC qrels. Each file is written beside its
// final name and renamed into place when complete. Open then checks the result like any BEIR directory.
func FromMIRACL(src, lang, split, dst string) error {
	if !langCode.MatchString(lang) || !splitName.MatchString(split) {
		return fmt.Errorf("miracl: language %q, split %q", lang, split)
	}
	shards, err := filepath.Glob(filepath.Join(src, "miracl-corpus-v1.0-"+lang, "docs-*.jsonl.gz"))
	if err != nil || len(shards) == 0 {
		return fmt.Errorf("miracl: no corpus shards for %s under %s", lang, src)
	}
	index := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "docs-"), ".jsonl.gz"))
		return n
	}
	slices.SortFunc(shards, func(a, b string) int { return index(a) - index(b) })
	if err := os.MkdirAll(filepath.Join(dst, "qrels"), 0o755); err != nil {
		return fmt.Errorf("miracl: %w", err)
	}
	base := filepath.Join(src, "miracl-v1.0-"+lang)
	topics := filepath.Join(base, "topics", fmt.Sprintf("topics.miracl-v1.0-%s-%s.tsv", lang, split))
	qrels := filepath.Join(base, "qrels", fmt.Sprintf("qrels.miracl-v1.0-%s-%s.tsv", lang, split))
	if err := convert(filepath.Join(dst, "queries.jsonl"), func(w io.Writer) error { return convertTopics(topics, w) }); err != nil {
		return err
	}
	if err := convert(filepath.Join(dst, "qrels", split+".tsv"), func(w io.Writer) error { return convertQrels(qrels, w) }); err != nil {
		return err
	}
	return convert(filepath.Join(dst, "corpus.jsonl"), func(w io.Writer) error {
		for _, s := range shards {
			if err := convertShard(s, w); err != nil {
				return err
			}
		}
		return nil
	})
}

// convert writes path through fill, into a temporary file that is renamed into place only on success.
func convert(path string, fill func(io.Writer) error) error {
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("miracl: %w", err)
	}
	w := bufio.NewWriter(f)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// maxLine bounds every line MIRACL's files may have; a longer one is an error, not a reason to grow.
const maxLine = 1 << 20

func eachLine(path string, r io.Reader, fn func(line int, s string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if !utf8.Valid(b) {
			return &Error{File: path, Line: n, Msg: "invalid UTF-8"}
		}
		if strings.TrimSpace(string(b)) == "" {
			continue
		}
		if err := fn(n, strings.TrimSuffix(string(b), "\r")); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return &Error{File: path, Line: n + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
	}
	if sc.Err() != nil {
		return fmt.Errorf("miracl: %s: %w", path, sc.Err())
	}
	return nil
}

func eachFileLine(path string, fn func(line int, s string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("miracl: %w", err)
	}
	defer f.Close()
	return eachLine(path, f, fn)
}

type beirRecord struct {
	ID    string `json:"_id"`
	Title string `json:"title,omitempty"`
	Text  string `json:"text"`
}

func writeJSONLine(w io.Writer, r beirRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// convertTopics turns "qid TAB query" lines into queries.jsonl.
func convertTopics(path string, w io.Writer) error {
	return eachFileLine(path, func(line int, s string) error {
		qid, text, ok := strings.Cut(s, "\t")
		if !ok || qid == "" {
			return &Error{File: path, Line: line, Msg: "want qid TAB query"}
		}
		return writeJSONLine(w, beirRecord{ID: qid, Text: text})
	})
}

// convertQrels turns TREC "qid Q0 docid relevance" lines into BEIR's query-id TAB corpus-id TAB score.
func convertQrels(path string, w io.Writer) error {
	if _, err := io.WriteString(w, "query-id\tcorpus-id\tscore\n"); err != nil {
		return err
	}
	return eachFileLine(path, func(line int, s string) error {
		f := strings.Fields(s)
		if len(f) != 4 {
			return &Error{File: path, Line: line, Msg: fmt.Sprintf("%d fields, want 4 (qid Q0 docid relevance)", len(f))}
		}
		if _, err := strconv.Atoi(f[3]); err != nil {
			return &Error{File: path, Line: line, Field: "relevance", Msg: fmt.Sprintf("%q is not an integer", f[3])}
		}
		_, err := fmt.Fprintf(w, "%s\t%s\t%s\n", f[0], f[2], f[3])
		return err
	})
}

// convertShard turns one gzipped shard of {"docid", "title", "text"} lines into corpus.jsonl lines.
func convertShard(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("miracl: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("miracl: %s: %w", path, err)
	}
	defer gz.Close()
	return eachLine(path, gz, func(line int, s string) error {
		var d struct {
			DocID *string `json:"docid"`
			Title string  `json:"title"`
			Text  *string `json:"text"`
		}
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return &Error{File: path, Line: line, Msg: "not a MIRACL passage: " + err.Error()}
		}
		if d.DocID == nil || d.Text == nil {
			return &Error{File: path, Line: line, Msg: "docid or text missing"}
		}
		return writeJSONLine(w, beirRecord{ID: *d.DocID, Title: d.Title, Text: *d.Text})
	})
}
