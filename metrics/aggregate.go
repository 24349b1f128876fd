package metrics

import (
	"cmp"
	"slices"
)

// Multi is the candidate language of the multilingual setting, where a query ranks the pooled candidates
// of every language.
const Multi = "multi"

// Setting is one evaluation setting: queries of one language against the candidates of one language, or
// against all of them (CandLang == Multi).
type Setting struct {
	Dataset   string
	QueryLang string
	CandLang  string
}

// Accumulator sums the scores of a setting's queries, so that partial results can be merged.
type Accumulator struct {
	Sum     Scores
	Queries int
}

// Add counts one query's scores.
func (a *Accumulator) Add(s Scores) {
	for m := range s {
		a.Sum[m] += s[m]
	}
	a.Queries++
}

// Merge adds b's queries to a.
func (a *Accumulator) Merge(b Accumulator) {
	for m := range b.Sum {
		a.Sum[m] += b.Sum[m]
	}
	a.Queries += b.Queries
}

// Mean returns the mean over queries; all zero when there are none.
func (a Accumulator) Mean() Scores {
	var s Scores
	if a.Queries == 0 {
		return s
	}
	for m := range s {
		s[m] = a.Sum[m] / float64(a.Queries)
	}
	return s
}

// Table holds an accumulator per setting. The zero Table is empty and ready to use.
type Table struct {
	acc map[Setting]Accumulator
}

// Add counts one query's scores in setting s.
func (t *Table) Add(s Setting, sc Scores) {
	if t.acc == nil {
		t.acc = make(map[Setting]Accumulator)
	}
	a := t.acc[s]
	a.Add(sc)
	t.acc[s] = a
}

// Merge adds every setting of o to t.
func (t *Table) Merge(o *Table) {
	for s, b := range o.acc {
		if t.acc == nil {
			t.acc = make(map[Setting]Accumulator)
		}
		a := t.acc[s]
		a.Merge(b)
		t.acc[s] = a
	}
}

// Put sets setting s's accumulator, replacing what t held for it: a table restored from a snapshot
// (Settings and Accumulator read one) goes on exactly where it was.
func (t *Table) Put(s Setting, a Accumulator) {
	if t.acc == nil {
		t.acc = make(map[Setting]Accumulator)
	}
	t.acc[s] = a
}

// Accumulator returns setting s's accumulator.
func (t *Table) Accumulator(s Setting) Accumulator {
	return t.acc[s]
}

// Settings returns the settings held, sorted by dataset, query language, candidate language.
func (t *Table) Settings() []Setting {
	ss := make([]Setting, 0, len(t.acc))
	for s := range t.acc {
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b Setting) int {
		return cmp.Or(cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.QueryLang, b.QueryLang), cmp.Compare(a.CandLang, b.CandLang))
	})
	return ss
}

// Summary is a dataset's result in the paper's terms. Every mean is over settings (or query languages) of
// per-setting means over queries, so each setting weighs the same whatever its query count.
type Summary struct {
	Mono  Scores // Mo.: mean over monolingual settings (query language = candidate language)
	Cross Scores // Cr.: mean over cross-lingual settings (query language != candidate language)
	// Multi is Mul.: the mean over query languages of the multilingual setting. Multi[RankDistance] is the
	// mean rank distance (mean over queries per query language, then over query languages).
	Multi Scores

	MonoSettings, CrossSettings, MultiLanguages int // how many settings each mean covers; 0: mean is unset

	// Languages holds the per-language scores behind degradation from English, keyed by language.
	Languages map[string]LanguageScores
}

// LanguageScores are the scores attributed to one language L. Degradation(L, en) compares either field
// with English's.
type LanguageScores struct {
	// Multi is the mean over L's queries in the multilingual setting.
	Multi        Scores
	MultiQueries int
	// Cross is the mean over the cross-lingual settings with L on either side (L against Y, and X against L).
	Cross         Scores
	CrossSettings int
}

// Summarize computes dataset's summary from the settings held.
func (t *Table) Summarize(dataset string) Summary {
	var mono, cross, multi Accumulator
	crossByLang := make(map[string]*Accumulator)
	sum := Summary{Languages: make(map[string]LanguageScores)}
	addCross := func(lang string, s Scores) {
		a := crossByLang[lang]
		if a == nil {
			a = new(Accumulator)
			crossByLang[lang] = a
		}
		a.Add(s)
	}
	for _, s := range t.Settings() {
		if s.Dataset != dataset {
			continue
		}
		a := t.acc[s]
		mean := a.Mean()
		switch {
		case s.CandLang == Multi:
			multi.Add(mean)
			l := sum.Languages[s.QueryLang]
			l.Multi, l.MultiQueries = mean, a.Queries
			sum.Languages[s.QueryLang] = l
		case s.QueryLang == s.CandLang:
			mono.Add(mean)
		default:
			cross.Add(mean)
			addCross(s.QueryLang, mean)
			addCross(s.CandLang, mean)
		}
	}
	for lang, a := range crossByLang {
		l := sum.Languages[lang]
		l.Cross, l.CrossSettings = a.Mean(), a.Queries
		sum.Languages[lang] = l
	}
	sum.Mono, sum.MonoSettings = mono.Mean(), mono.Queries
	sum.Cross, sum.CrossSettings = cross.Mean(), cross.Queries
	sum.Multi, sum.MultiLanguages = multi.Mean(), multi.Queries
	return sum
}
