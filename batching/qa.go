package batching

import (
	"cmp"
	"fmt"
	"slices"

	"xling/dataset"
)

// QAOptions shapes the groups QAGroups builds.
type QAOptions struct {
	// WithContext makes the passage the answer sentence, a newline, then its paragraph (LAReQA's candidate
	// encoding); otherwise the passage is the sentence alone.
	WithContext bool
	// Holdout languages (ISO 639-1) are left out of every group.
	Holdout []string
}

// QAStats counts what QAGroups left out.
type QAStats struct {
	Groups       int
	Unpaired     int // (question, language) with no answer sentence in that language, or the reverse
	ExtraAnswers int // further candidates holding the answer to a question in one language; the first is kept
	Dropped      int // question ids left with fewer than two languages
}

type qaKey struct{ dataset, qid string }

// QAGroups builds one group per question id from queries and candidates (of one or more languages and
// datasets): in each language that has both, the question and the sentence that holds its answer, the
// first such candidate in item order. Groups come sorted by dataset and question id.
func QAGroups(items []dataset.Item, opt QAOptions) ([]Group, QAStats, error) {
	var st QAStats
	questions := map[qaKey]map[string]dataset.Item{}
	answers := map[qaKey]map[string]string{}
	for _, it := range items {
		if it.Lang == "" || it.Text == "" {
			return nil, st, fmt.Errorf("item %s/%s: empty language or text", it.Dataset, it.ID)
		}
		if slices.Contains(opt.Holdout, it.Lang) {
			continue
		}
		switch it.Kind {
		case dataset.Query:
			if it.QID == "" {
				return nil, st, fmt.Errorf("item %s/%s: query without question id", it.Dataset, it.ID)
			}
			k := qaKey{it.Dataset, it.QID}
			if questions[k] == nil {
				questions[k] = map[string]dataset.Item{}
			}
			if prev, ok := questions[k][it.Lang]; ok {
				return nil, st, fmt.Errorf("item %s/%s: question id %s already asked by %s", it.Dataset, it.ID, it.QID, prev.ID)
			}
			questions[k][it.Lang] = it
		case dataset.Candidate:
			passage := it.Text
			if opt.WithContext {
				passage = it.Text + "\n" + it.Context
			}
			for _, qid := range it.QIDs {
				k := qaKey{it.Dataset, qid}
				if answers[k] == nil {
					answers[k] = map[string]string{}
				}
				if _, ok := answers[k][it.Lang]; ok {
					st.ExtraAnswers++
					continue
				}
				answers[k][it.Lang] = passage
			}
		default:
			return nil, st, fmt.Errorf("item %s/%s: unknown kind %q", it.Dataset, it.ID, it.Kind)
		}
	}
	keys := make([]qaKey, 0, len(questions))
	for k := range questions {
		keys = append(keys, k)
	}
	for k, byLang := range answers {
		if _, ok := questions[k]; !ok {
			st.Unpaired += len(byLang)
		}
	}
	slices.SortFunc(keys, func(a, b qaKey) int {
		return cmp.Or(cmp.Compare(a.dataset, b.dataset), cmp.Compare(a.qid, b.qid))
	})
	var gs []Group
	for _, k := range keys {
		g := Group{ID: k.qid, Source: k.dataset}
		for lang, q := range questions[k] {
			a, ok := answers[k][lang]
			if !ok {
				st.Unpaired++
				continue
			}
			g.Texts = append(g.Texts, Text{Lang: lang, Query: q.Text, Passage: a})
		}
		for lang := range answers[k] {
			if _, ok := questions[k][lang]; !ok {
				st.Unpaired++
			}
		}
		if len(g.Texts) < 2 {
			st.Dropped++
			continue
		}
		slices.SortFunc(g.Texts, func(a, b Text) int { return cmp.Compare(a.Lang, b.Lang) })
		gs = append(gs, g)
	}
	st.Groups = len(gs)
	return gs, st, nil
}
