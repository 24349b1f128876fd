package experiment

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"

	"xling/dataset"
	"xling/encoder/hashbag"
	"xling/metrics"
	"xling/retrieval"
	"xling/tokenizer/ngram"
)

// ValidationQuestion reports whether question id qid belongs to the validation slice: a seeded hash of the
// id, so every translation of a question falls on the same side, and the split depends on the id and the
// seed alone (not on file order or on which languages a question has). The hash is 64-bit FNV-1a of the
// seed (little-endian) and the id: its top bits mix ids that differ before their last byte, as the hex
// digests of MLQA-R and XQuAD-R do, but barely separate ids that differ only in the last byte.
func ValidationQuestion(qid string, share float64, seed uint64) bool {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(qid))
	return float64(h.Sum64()>>11)/(1<<53) < share
}

// SplitItems splits a dataset's items by question. train holds the queries of training questions and every
// candidate (training pairs are built from them). val holds the queries of validation questions and the
// candidates no training question points to: their answers and the sentences around them, which
// training never used as passages, as XQuAD-R's candidates are unseen by a model trained on MLQA-R.
func SplitItems(items []dataset.Item, share float64, seed uint64) (train, val []dataset.Item) {
	for _, it := range items {
		switch {
		case it.Kind == dataset.Query && ValidationQuestion(it.QID, share, seed):
			val = append(val, it)
		case it.Kind == dataset.Query:
			train = append(train, it)
		default:
			train = append(train, it)
			if !slices.ContainsFunc(it.QIDs, func(q string) bool { return !ValidationQuestion(q, share, seed) }) {
				val = append(val, it)
			}
		}
	}
	return train, val
}

// Validation holds the mean AP of one model on a query set, LAReQA-style: Mo. over same-language settings,
// Cr. over the cross-language ones, Mul. over query languages in the pooled candidates.
type Validation struct {
	Mo, Cr, Mul float64
	Queries     int
}

// Validate embeds queries and every candidate of cands with m's reference forward pass (the prefixes in m
// applied, as the tokenize stage does) and scores them. Relevance follows dataset.Item: a candidate is
// relevant to a query whose QID it lists.
func Validate(ctx context.Context, m *hashbag.Model, queries, cands []dataset.Item) (Validation, error) {
	tok, err := ngram.New(m.Tokenizer)
	if err != nil {
		return Validation{}, err
	}
	embed := func(items []dataset.Item, prefix string) map[string][]float32 {
		byLang := map[string][]float32{}
		ids := make([][]int64, 0, 256)
		flush := func(lang string) {
			for _, e := range m.Forward(ids) {
				byLang[lang] = append(byLang[lang], e...)
			}
			ids = ids[:0]
		}
		for i, it := range items {
			x, _ := tok.Encode(prefix + it.Text)
			ids = append(ids, x)
			if len(ids) == cap(ids) || i+1 == len(items) || items[i+1].Lang != it.Lang {
				flush(it.Lang)
			}
		}
		return byLang
	}
	var qs, cs []dataset.Item
	for _, it := range queries {
		if it.Kind == dataset.Query {
			qs = append(qs, it)
		}
	}
	for _, it := range cands {
		if it.Kind == dataset.Candidate {
			cs = append(cs, it)
		}
	}
	byLang := func(a, b dataset.Item) int {
		if a.Lang != b.Lang {
			return cmp.Compare(a.Lang, b.Lang)
		}
		return cmp.Compare(a.ID, b.ID)
	}
	slices.SortStableFunc(qs, byLang)
	slices.SortStableFunc(cs, byLang)
	qEmb, cEmb := embed(qs, m.QueryPrefix), embed(cs, m.PassagePrefix)
	qItems, cItems := group(qs), group(cs)
	langs := make([]string, 0, len(qItems))
	for l := range qItems {
		if len(cItems[l]) > 0 {
			langs = append(langs, l)
		}
	}
	slices.Sort(langs)

	// score ranks queries of ql against the candidates of cl (all languages when cl is "").
	score := func(ql string, candLangs []string) (sum float64, n int, err error) {
		var pool []float32
		var items []dataset.Item
		for _, l := range candLangs {
			pool = append(pool, cEmb[l]...)
			items = append(items, cItems[l]...)
		}
		rel := map[string][]int{}
		for i, c := range items {
			for _, q := range c.QIDs {
				rel[q] = append(rel[q], i)
			}
		}
		var keep []int
		var qv []float32
		for i, q := range qItems[ql] {
			if len(rel[q.QID]) > 0 {
				keep = append(keep, i)
				qv = append(qv, qEmb[ql][i*m.Out:(i+1)*m.Out]...)
			}
		}
		if len(keep) == 0 {
			return 0, 0, nil
		}
		res, err := retrieval.Search(ctx, qv, pool, m.Out, 0, func(k int) []int { return rel[qItems[ql][keep[k]].QID] }, 0)
		if err != nil {
			return 0, 0, err
		}
		for _, r := range res {
			s, err := metrics.Evaluate(r.RelevantRanks, len(items))
			if err != nil {
				return 0, 0, err
			}
			sum += s[metrics.MAP]
		}
		return sum, len(res), nil
	}
	var v Validation
	var mo, cr, mul []float64
	for _, ql := range langs {
		for _, cl := range langs {
			s, n, err := score(ql, []string{cl})
			if err != nil {
				return v, fmt.Errorf("validate %s->%s: %w", ql, cl, err)
			}
			if n == 0 {
				continue
			}
			if ql == cl {
				mo = append(mo, s/float64(n))
				v.Queries += n
			} else {
				cr = append(cr, s/float64(n))
			}
		}
		s, n, err := score(ql, langs)
		if err != nil {
			return v, fmt.Errorf("validate %s->all: %w", ql, err)
		}
		if n > 0 {
			mul = append(mul, s/float64(n))
		}
	}
	v.Mo, v.Cr, v.Mul = meanOr0(mo), meanOr0(cr), meanOr0(mul)
	return v, nil
}

func group(items []dataset.Item) map[string][]dataset.Item {
	out := map[string][]dataset.Item{}
	for _, it := range items {
		out[it.Lang] = append(out[it.Lang], it)
	}
	return out
}

func meanOr0(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return mean(x)
}
