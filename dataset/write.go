package dataset

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteLAReQA writes one language's items as a LAReQA file (XQuAD-R and MLQA-R's layout), so that Read gives
// them back: the same texts, contexts and relevance and, for candidates with Read's ids
// (<lang>/c/<article>.<paragraph>.<sentence>) that run without gaps, the same ids. Other candidates are
// grouped into paragraphs by their context, in id order. A query goes into the paragraph of its first
// relevant candidate (by id), with that paragraph's relevant sentences as its answers: one paragraph per
// question, as in LAReQA, so relevance to candidates of other paragraphs is not kept.
//
// Every item must be of lang, and every query needs a relevant candidate among them: a LAReQA question has
// an answer in its own language.
func WriteLAReQA(w io.Writer, lang string, items []Item) error {
	var queries, cands []Item
	for _, it := range items {
		if it.Lang != lang {
			return fmt.Errorf("write LAReQA %s: item %s is of language %q", lang, it.ID, it.Lang)
		}
		switch it.Kind {
		case Query:
			queries = append(queries, it)
		case Candidate:
			cands = append(cands, it)
		default:
			return fmt.Errorf("write LAReQA %s: item %s has kind %q", lang, it.ID, it.Kind)
		}
	}
	slices.SortFunc(cands, func(a, b Item) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(queries, func(a, b Item) int { return strings.Compare(a.ID, b.ID) })
	pars, ok := byReadID(lang, cands)
	if !ok {
		pars = byContext(cands)
	}
	home := map[string]*wpar{} // candidate id -> its paragraph
	for _, p := range pars {
		for _, id := range p.ids {
			home[id] = p
		}
	}
	relevant := map[string][]string{} // qid -> candidate ids, in id order
	for _, c := range cands {
		for _, q := range c.QIDs {
			relevant[q] = append(relevant[q], c.ID)
		}
	}
	for _, q := range queries {
		rel := relevant[q.QID]
		if len(rel) == 0 {
			return fmt.Errorf("write LAReQA %s: query %s has no relevant candidate in its language", lang, q.ID)
		}
		p := home[rel[0]]
		a := wqa{ID: q.QID, Question: q.Text}
		for s, id := range p.ids {
			if slices.Contains(rel, id) {
				a.Answers = append(a.Answers, wanswer{Text: p.Sentences[s], AnswerStart: p.SentenceBreaks[s][0]})
			}
		}
		p.QAs = append(p.QAs, a)
	}
	var doc struct {
		Data []warticle `json:"data"`
	}
	for _, p := range pars {
		for len(doc.Data) <= p.article {
			doc.Data = append(doc.Data, warticle{Paragraphs: []*wpar{}})
		}
		doc.Data[p.article].Paragraphs = append(doc.Data[p.article].Paragraphs, p)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write LAReQA %s: %w", lang, err)
	}
	return nil
}

type warticle struct {
	Paragraphs []*wpar `json:"paragraphs"`
}

type wpar struct {
	Context        string   `json:"context"`
	Sentences      []string `json:"sentences"`
	SentenceBreaks [][2]int `json:"sentence_breaks"` // [start, end) in code points
	QAs            []wqa    `json:"qas"`
	article        int
	ids            []string // the candidates, in sentence order
}

type wqa struct {
	ID       string    `json:"id"`
	Question string    `json:"question"`
	Answers  []wanswer `json:"answers"`
}

type wanswer struct {
	Text        string `json:"text"`
	AnswerStart int    `json:"answer_start"`
}

var readID = regexp.MustCompile(`^[a-z]{2}/c/(\d+)\.(\d+)\.(\d+)$`)

// byReadID rebuilds the articles and paragraphs that Read's candidate ids number, when they run without gaps
// and each paragraph's sentences are found, in order, in its context.
func byReadID(lang string, cands []Item) ([]*wpar, bool) {
	type pos struct{ a, p, s int }
	at := make([]pos, len(cands))
	for i, c := range cands {
		m := readID.FindStringSubmatch(c.ID)
		if m == nil || !strings.HasPrefix(c.ID, lang+"/") {
			return nil, false
		}
		a, _ := strconv.Atoi(m[1])
		p, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		at[i] = pos{a, p, s}
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		return cmp.Or(cmp.Compare(at[i].a, at[j].a), cmp.Compare(at[i].p, at[j].p), cmp.Compare(at[i].s, at[j].s))
	})
	var pars []*wpar
	prev := pos{-1, -1, -1}
	for _, i := range order {
		x, c := at[i], cands[i]
		switch {
		case x.a == prev.a && x.p == prev.p && x.s == prev.s+1: // the next sentence
			p := pars[len(pars)-1]
			if c.Context != p.Context {
				return nil, false
			}
			p.ids, p.Sentences = append(p.ids, c.ID), append(p.Sentences, c.Text)
		case x.s == 0 && ((x.a == prev.a && x.p == prev.p+1) || (x.a == prev.a+1 && x.p == 0)): // the next paragraph
			pars = append(pars, &wpar{Context: c.Context, article: x.a, ids: []string{c.ID}, Sentences: []string{c.Text}, QAs: []wqa{}})
		default:
			return nil, false
		}
		prev = x
	}
	for _, p := range pars {
		if p.SentenceBreaks = locate(p.Context, p.Sentences); p.SentenceBreaks == nil {
			return nil, false
		}
	}
	return pars, true
}

// byContext groups candidates into the paragraphs of one article by context, in order of first appearance;
// a paragraph whose sentences are not found in its context in order gets their concatenation instead.
func byContext(cands []Item) []*wpar {
	var pars []*wpar
	index := map[string]*wpar{}
	for _, c := range cands {
		p := index[c.Context]
		if p == nil {
			p = &wpar{Context: c.Context, QAs: []wqa{}}
			index[c.Context] = p
			pars = append(pars, p)
		}
		p.ids, p.Sentences = append(p.ids, c.ID), append(p.Sentences, c.Text)
	}
	for _, p := range pars {
		if p.SentenceBreaks = locate(p.Context, p.Sentences); p.SentenceBreaks == nil {
			p.Context = strings.Join(p.Sentences, " ")
			p.SentenceBreaks = locate(p.Context, p.Sentences)
		}
	}
	return pars
}

// locate finds each sentence in context after the one before, as [start, end) code points. A sentence that
// is not there word for word (LAReQA's sentences and contexts differ by a character in a few places) gets
// the gap between its neighbours: Read takes a sentence's text from the sentences list, and only needs its
// break to hold its answers. It returns nil when a gap is empty.
func locate(context string, sentences []string) [][2]int {
	breaks := make([][2]int, len(sentences))
	found := make([]bool, len(sentences))
	from, cps := 0, 0 // byte offset searched from, and its code point offset
	for i, s := range sentences {
		j := strings.Index(context[from:], s)
		if j < 0 || s == "" {
			continue
		}
		start := cps + utf8.RuneCountInString(context[from:from+j])
		end := start + utf8.RuneCountInString(s)
		breaks[i], found[i] = [2]int{start, end}, true
		from, cps = from+j+len(s), end
	}
	n := utf8.RuneCountInString(context)
	for i := 0; i < len(sentences); {
		if found[i] {
			i++
			continue
		}
		j := i // sentences i..j-1 are not found: share the gap between their neighbours evenly
		for j < len(sentences) && !found[j] {
			j++
		}
		lo, hi := 0, n
		if i > 0 {
			lo = breaks[i-1][1]
		}
		if j < len(sentences) {
			hi = breaks[j][0]
		}
		k := j - i
		if hi-lo < k {
			return nil
		}
		for m := range k {
			breaks[i+m] = [2]int{lo + (hi-lo)*m/k, lo + (hi-lo)*(m+1)/k}
		}
		i = j
	}
	return breaks
}
