package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The SQuAD layout shared by XQuAD and LAReQA. Strings decode through jstr so that a bad string
// (invalid UTF-8, a number where text belongs) becomes a record error instead of failing the file.
type squadFile struct {
	Data []struct {
		Paragraphs []paragraph `json:"paragraphs"`
	} `json:"data"`
}

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

// parser turns one file into items, collecting record errors.
type parser struct {
	file    File
	opts    Options
	seen    map[string]bool // question ids met so far
	items   []Item
	skipped []error
}

func (p *parser) parse(data []byte) error {
	var f squadFile
	if err := json.Unmarshal(data, &f); err != nil {
		return p.syntaxError(data, err)
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("read %s: %w: no data[] entries", p.file.Path, ErrSyntax)
	}
	for ai, art := range f.Data {
		for pi, par := range art.Paragraphs {
			p.paragraph(fmt.Sprintf("data[%d].paragraphs[%d]", ai, pi), ai, pi, &par)
		}
	}
	return nil
}

// syntaxError names the file and the line:column of the decoder's offset.
func (p *parser) syntaxError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
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

func (p *parser) fail(record, format string, args ...any) {
	p.skipped = append(p.skipped, &RecordError{File: p.file.Path, Record: record, Msg: fmt.Sprintf(format, args...)})
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

func (p *parser) paragraph(path string, ai, pi int, par *paragraph) {
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
		if !p.text(qpath+".id", q.ID) {
			continue
		}
		id := q.ID.s
		if p.seen[id] {
			p.fail(qpath+".id", "duplicate id %q", id)
			continue
		}
		p.seen[id] = true
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
		p.items = append(p.items, Item{
			Dataset: p.file.Dataset, Lang: p.file.Lang, Kind: Query,
			ID: p.file.Lang + "/q/" + id, QID: id, Text: q.Question.s,
		})
	}
	for si, s := range sents {
		if !s.ok {
			continue
		}
		p.items = append(p.items, Item{
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
