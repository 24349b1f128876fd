package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"xling/schemas"
)

// The SQuAD layout shared by XQuAD and LAReQA: {"data": [{"paragraphs": [paragraph, ...]}, ...]}. The
// file is streamed: its structure is walked token by token and each paragraph decoded on its own, so
// memory holds one paragraph at a time. Strings decode through jstr so that a bad string (invalid UTF-8, a
// number where text belongs) becomes a record error instead of failing the file.
type paragraph struct {
	Context        jstr    `json:"context"`
	QAs            []qa    `json:"qas"`
	SentenceBreaks [][]int `json:"sentence_breaks"`
	Sentences      []jstr  `json:"sentences"`
}

type qa struct {
	ID       jstr `json:"id"`
	Question jstr `json:"question"`
	Answers  []struct {
		AnswerStart *int `json:"answer_start"`
	} `json:"answers"`
}

// jstr is a JSON string that remembers what was wrong with it. encoding/json would silently replace
// invalid UTF-8 with U+FFFD, so the raw bytes are checked first.
type jstr struct {
	s   string
	set bool
	bad string
}

func (j *jstr) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	j.set = true
	switch {
	case !utf8.Valid(b):
		j.bad = "invalid UTF-8"
	case b[0] != '"':
		j.bad = "not a string"
	default:
		return json.Unmarshal(b, &j.s)
	}
	return nil
}

// parser turns one file into items: each goes to emit as soon as its paragraph is read, each broken
// record to reject (which ends the scan by returning an error).
type parser struct {
	file   File
	opts   Options
	seen   map[string]struct{} // question ids met so far (a set: its size is the reader's one cost per question)
	emit   func(Item) error
	reject func(*RecordError) error
	// whole returns the file's bytes: on a malformed file the error is the one json.Unmarshal gives for
	// the whole file, with its line and column.
	whole func() ([]byte, error)
	err   error // the first error of emit or reject, which ends the scan
}

// squadFile is the whole file, for json.Unmarshal's account of a malformed one.
type squadFile struct {
	Data []struct {
		Paragraphs []paragraph `json:"paragraphs"`
	} `json:"data"`
}

// errStop ends a walk when emit or reject asked to stop (the reason is in parser.err).
var errStop = errors.New("stop")

func (p *parser) scan(r io.Reader) error {
	dec := json.NewDecoder(r)
	articles := 0
	err := walkObject(dec, func(key string) error {
		if key != "data" {
			return skipValue(dec)
		}
		return walkArray(dec, func(ai int) error {
			articles++
			return walkObject(dec, func(key string) error {
				if key != "paragraphs" {
					return skipValue(dec)
				}
				return walkArray(dec, func(pi int) error {
					var raw json.RawMessage
					if err := dec.Decode(&raw); err != nil {
						return err
					}
					return p.paragraphJSON(fmt.Sprintf("data[%d].paragraphs[%d]", ai, pi), ai, pi, raw)
				})
			})
		})
	})
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("data after the top-level object at byte %d", dec.InputOffset())
		}
	}
	switch {
	case errors.Is(err, errStop):
		return p.err
	case err != nil:
		return p.malformed(err, dec.InputOffset())
	case articles == 0:
		return fmt.Errorf("read %s: %w: no data[] entries", p.file.Path, ErrSyntax)
	}
	return nil
}

// walkObject reads an object (or null), calling value for each key with the decoder at its value, which
// value must consume. A key named twice is an error: which of the two counts differs between JSON readers.
func walkObject(dec *json.Decoder, value func(key string) error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%v where an object belongs, at byte %d", tok, dec.InputOffset())
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // the decoder checks that an object's keys are strings
		if seen[key] {
			return fmt.Errorf("key %q named twice in one object, at byte %d", key, dec.InputOffset())
		}
		seen[key] = true
		if err := value(key); err != nil {
			return err
		}
	}
	_, err = dec.Token() // '}'
	return err
}

// walkArray reads an array (or null), calling elem with each element's index and the decoder at it.
func walkArray(dec *json.Decoder, elem func(i int) error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("%v where an array belongs, at byte %d", tok, dec.InputOffset())
	}
	for i := 0; dec.More(); i++ {
		if err := elem(i); err != nil {
			return err
		}
	}
	_, err = dec.Token() // ']'
	return err
}

// skipValue consumes a value the reader does not use.
func skipValue(dec *json.Decoder) error {
	var v json.RawMessage
	return dec.Decode(&v)
}

// malformed explains a file the walk could not read: as json.Unmarshal of the whole file does, with the
// line:column of its offset, or (for what only the walk refuses, a key named twice) with the walk's own.
func (p *parser) malformed(err error, off int64) error {
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("read %s: file larger than %d bytes", p.file.Path, p.opts.MaxFileBytes)
	}
	data, rerr := p.whole()
	if rerr != nil {
		return rerr
	}
	var f squadFile
	if uerr := json.Unmarshal(data, &f); uerr != nil {
		return p.syntaxError(data, uerr, -1)
	}
	return p.syntaxError(data, err, off)
}

// syntaxError names the file and the line:column of the decoder's offset (off, unless -1: the number of
// bytes read, the offending one included).
func (p *parser) syntaxError(data []byte, err error, off int64) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case off >= 0:
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return fmt.Errorf("read %s: %w: %v", p.file.Path, ErrSyntax, err)
	}
	// The offset counts the bytes read, the offending one included: report where that byte is.
	off = max(min(off, int64(len(data)))-1, 0)
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Errorf("read %s:%d:%d: %w: %v", p.file.Path, line, col, ErrSyntax, err)
}

// fail rejects a record; p.err is then set if the scan must stop.
func (p *parser) fail(record, format string, args ...any) {
	if p.err == nil {
		p.err = p.reject(&RecordError{File: p.file.Path, Record: record, Msg: fmt.Sprintf(format, args...)})
	}
}

func (p *parser) add(it Item) {
	if p.err == nil {
		p.err = p.emit(it)
	}
}

// text checks a string field; on failure it records the problem and returns false.
func (p *parser) text(record string, j jstr) bool {
	switch {
	case !j.set:
		p.fail(record, "missing")
	case j.bad != "":
		p.fail(record, "%s", j.bad)
	case strings.TrimSpace(j.s) == "":
		p.fail(record, "empty")
	case len(j.s) > p.opts.MaxTextBytes:
		p.fail(record, "%d bytes, over the limit of %d", len(j.s), p.opts.MaxTextBytes)
	case hasControl(j.s):
		c, _ := schemas.ControlChar(j.s)
		p.fail(record, "control character %U", c)
	default:
		return true
	}
	return false
}

// sentence is a candidate: its text and the byte range of the context it covers for relevance.
type sentence struct {
	text       string
	start, end int
	ok         bool
	qids       []string
}

func hasControl(s string) bool {
	_, bad := schemas.ControlChar(s)
	return bad
}

// paragraphJSON reads one paragraph: a key named twice in a question rejects that question, anywhere
// else the paragraph. A paragraph of the wrong shape fails the file, as json.Unmarshal of it would.
func (p *parser) paragraphJSON(path string, ai, pi int, raw []byte) error {
	dup, err := duplicateKey(raw)
	if err != nil {
		return err
	}
	badQA := -1
	if dup != "" {
		if _, err := fmt.Sscanf(dup, ".qas[%d]", &badQA); err != nil {
			p.fail(path+dup, "key named twice in one object")
			return p.stopped()
		}
	}
	var par paragraph
	if err := json.Unmarshal(raw, &par); err != nil {
		return err
	}
	p.paragraph(path, ai, pi, &par, badQA, dup)
	return p.stopped()
}

func (p *parser) stopped() error {
	if p.err != nil {
		return errStop
	}
	return nil
}

func (p *parser) paragraph(path string, ai, pi int, par *paragraph, badQA int, dup string) {
	if !p.text(path+".context", par.Context) {
		return
	}
	ctx := par.Context.s
	// cp[i] is the byte offset of code point i; cp[n] == len(ctx). Offsets in the data are code points.
	cp := make([]int, 0, len(ctx)+1)
	for i := range ctx {
		cp = append(cp, i)
	}
	cp = append(cp, len(ctx))
	n := len(cp) - 1

	var sents []sentence
	if p.file.Dataset == XQuAD {
		sents = p.split(ctx)
	} else if sents = p.breaks(path, par, cp, n); sents == nil {
		return
	}

	for qi, q := range par.QAs {
		qpath := fmt.Sprintf("%s.qas[%d]", path, qi)
		if qi == badQA {
			p.fail(path+dup, "key named twice in one object")
			continue
		}
		if !p.text(qpath+".id", q.ID) {
			continue
		}
		id := q.ID.s
		if _, dup := p.seen[id]; dup {
			p.fail(qpath+".id", "duplicate id %q", id)
			continue
		}
		p.seen[id] = struct{}{}
		if !p.text(qpath+".question", q.Question) {
			continue
		}
		if len(q.Answers) == 0 {
			p.fail(qpath+".answers", "no answers")
			continue
		}
		hits, ok := p.answers(qpath, q, cp, n, sents)
		if !ok {
			continue
		}
		for _, si := range hits {
			if !slices.Contains(sents[si].qids, id) {
				sents[si].qids = append(sents[si].qids, id)
			}
		}
		p.add(Item{
			Dataset: p.file.Dataset, Lang: p.file.Lang, Kind: Query,
			ID: p.file.Lang + "/q/" + id, QID: id, Text: q.Question.s,
		})
	}
	for si, s := range sents {
		if !s.ok {
			continue
		}
		p.add(Item{
			Dataset: p.file.Dataset, Lang: p.file.Lang, Kind: Candidate,
			ID:   fmt.Sprintf("%s/c/%d.%d.%d", p.file.Lang, ai, pi, si),
			Text: s.text, Context: ctx, QIDs: s.qids,
		})
	}
}

// answers maps each answer_start (a code point offset) to the sentence that holds it.
func (p *parser) answers(qpath string, q qa, cp []int, n int, sents []sentence) ([]int, bool) {
	var hits []int
	for ai, a := range q.Answers {
		apath := fmt.Sprintf("%s.answers[%d].answer_start", qpath, ai)
		if a.AnswerStart == nil {
			p.fail(apath, "missing")
			return nil, false
		}
		st := *a.AnswerStart
		if st < 0 || st >= n {
			p.fail(apath, "%d outside the context (%d code points)", st, n)
			return nil, false
		}
		b := cp[st]
		si := -1
		for i, s := range sents {
			if s.start <= b && b < s.end {
				si = i
				break
			}
		}
		if si < 0 {
			p.fail(apath, "%d lies in no sentence", st)
			return nil, false
		}
		hits = append(hits, si)
	}
	return hits, true
}

// breaks reads LAReQA's sentence_breaks ([start, end) code points) and sentences. Relevance follows the
// breaks and the text comes from sentences: the two can disagree by a character (two Turkish sentences
// of XQuAD-R), and the published sentences are what LAReQA's candidates are. It returns nil, after
// recording why, when the breaks cannot be used.
func (p *parser) breaks(path string, par *paragraph, cp []int, n int) []sentence {
	if len(par.SentenceBreaks) == 0 {
		p.fail(path+".sentence_breaks", "missing")
		return nil
	}
	if len(par.Sentences) != len(par.SentenceBreaks) {
		p.fail(path+".sentences", "%d sentences for %d sentence_breaks", len(par.Sentences), len(par.SentenceBreaks))
		return nil
	}
	sents := make([]sentence, len(par.SentenceBreaks))
	prev := 0
	for i, br := range par.SentenceBreaks {
		bpath := fmt.Sprintf("%s.sentence_breaks[%d]", path, i)
		if len(br) != 2 || br[0] < prev || br[0] >= br[1] || br[1] > n {
			p.fail(bpath, "%v is not an ordered [start, end) range within the %d code points after %d", br, n, prev)
			return nil
		}
		prev = br[1]
		s := sentence{start: cp[br[0]], end: cp[br[1]]}
		if p.text(fmt.Sprintf("%s.sentences[%d]", path, i), par.Sentences[i]) {
			s.text, s.ok = par.Sentences[i].s, true
		}
		sents[i] = s
	}
	return sents
}

// split cuts a raw paragraph with SplitSentences. For relevance each sentence also owns the space
// up to the next one, so an answer that starts on a space still finds its sentence.
func (p *parser) split(ctx string) []sentence {
	spans := SplitSentences(p.file.Lang, ctx)
	sents := make([]sentence, len(spans))
	for i, sp := range spans {
		s := sentence{text: ctx[sp.Start:sp.End], start: sp.Start, end: len(ctx), ok: true}
		if i == 0 {
			s.start = 0
		}
		if i+1 < len(spans) {
			s.end = spans[i+1].Start
		}
		sents[i] = s
	}
	return sents
}

// duplicateKey returns the path within raw (".qas[2].id") of the first key an object names twice, or "".
func duplicateKey(raw []byte) (string, error) {
	type frame struct {
		obj     bool
		keys    []string // objects: the keys named so far (a handful: a list beats a map)
		key     string   // objects: the key whose value comes next
		wantKey bool
		idx     int // arrays: the index of the next element
	}
	var stack []frame
	// path is where stack[n] stands in raw, from the keys and indexes of the containers around it; it is
	// built only for the answer, since a path for every value costs more than the scan.
	path := func(n int) string {
		var b strings.Builder
		for _, f := range stack[:n] {
			if f.obj {
				b.WriteString("." + f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.idx)
			}
		}
		return b.String()
	}
	done := func() { // a value of the innermost container is complete
		if len(stack) == 0 {
			return
		}
		if f := &stack[len(stack)-1]; f.obj {
			f.wantKey = true
		} else {
			f.idx++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			cur := &stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				done()
				continue
			}
			key := tok.(string)
			if slices.Contains(cur.keys, key) {
				return path(n-1) + "." + key, nil
			}
			cur.keys, cur.key, cur.wantKey = append(cur.keys, key), key, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			done()
		}
	}
}
