package metrics

import (
	"reflect"
	"testing"

	"xling/internal/testenv"
)

type row struct {
	s         Setting
	ap, rdist float64
}

// handRows is a two-language dataset "x" plus a setting of another dataset that must not leak into it.
func handRows() []row {
	return []row{
		{Setting{"x", "en", "en"}, 0.5, 0},
		{Setting{"x", "en", "en"}, 1.0, 0}, // (en,en) mean 0.75
		{Setting{"x", "de", "de"}, 0.25, 0},
		{Setting{"x", "en", "de"}, 0.5, 0},
		{Setting{"x", "de", "en"}, 0.3, 0},
		{Setting{"x", "en", Multi}, 0.6, 10},
		{Setting{"x", "en", Multi}, 0.4, 20}, // (en,multi) mean map 0.5, rank distance 15
		{Setting{"x", "de", Multi}, 0.2, 40},
		{Setting{"y", "en", "en"}, 0.9, 0},
	}
}

func scores(ap, rdist float64) Scores {
	var s Scores
	s[MAP], s[RankDistance] = ap, rdist
	return s
}

func TestSummarizeHandWorked(t *testing.T) {
	var tab Table
	for _, r := range handRows() {
		tab.Add(r.s, scores(r.ap, r.rdist))
	}
	got := tab.Summarize("x")
	want := Summary{
		Mono:           scores((0.75+0.25)/2, 0), // 0.5
		Cross:          scores((0.5+0.3)/2, 0),   // 0.4
		Multi:          scores((0.5+0.2)/2, (15+40)/2.0),
		MonoSettings:   2,
		CrossSettings:  2,
		MultiLanguages: 2,
		Languages: map[string]LanguageScores{
			// Both cross settings have en on one side and de on the other: each language's cross mean is 0.4.
			"en": {Multi: scores(0.5, 15), MultiQueries: 2, Cross: scores(0.4, 0), CrossSettings: 2},
			"de": {Multi: scores(0.2, 40), MultiQueries: 1, Cross: scores(0.4, 0), CrossSettings: 2},
		},
	}
	if !summariesClose(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// de's multilingual map degrades by 1 - 0.2/0.5 = 0.6 from English's.
	if d := Degradation(got.Languages["de"].Multi, got.Languages["en"].Multi)[MAP]; !testenv.Close(d, 0.6, 1e-12) {
		t.Errorf("de multilingual map degradation %v, want 0.6", d)
	}
}

func TestMergeEqualsAddingEverything(t *testing.T) {
	var all, a, b Table
	for i, r := range handRows() {
		all.Add(r.s, scores(r.ap, r.rdist))
		if i%2 == 0 {
			a.Add(r.s, scores(r.ap, r.rdist))
		} else {
			b.Add(r.s, scores(r.ap, r.rdist))
		}
	}
	var merged Table
	merged.Merge(&a)
	merged.Merge(&b)
	if !reflect.DeepEqual(merged.Settings(), all.Settings()) {
		t.Fatalf("settings %v, want %v", merged.Settings(), all.Settings())
	}
	for _, s := range all.Settings() {
		got, want := merged.Accumulator(s), all.Accumulator(s)
		if got.Queries != want.Queries || !scoresClose(got.Sum, want.Sum) {
			t.Errorf("%v: merged %+v, want %+v", s, got, want)
		}
	}
}

func TestSettingsSorted(t *testing.T) {
	var tab Table
	for _, r := range handRows() {
		tab.Add(r.s, Scores{})
	}
	want := []Setting{
		{"x", "de", "de"}, {"x", "de", "en"}, {"x", "de", Multi},
		{"x", "en", "de"}, {"x", "en", "en"}, {"x", "en", Multi},
		{"y", "en", "en"},
	}
	if got := tab.Settings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func scoresClose(a, b Scores) bool {
	for m := range a {
		if !testenv.Close(a[m], b[m], 1e-12) {
			return false
		}
	}
	return true
}

func summariesClose(a, b Summary) bool {
	if a.MonoSettings != b.MonoSettings || a.CrossSettings != b.CrossSettings || a.MultiLanguages != b.MultiLanguages ||
		!scoresClose(a.Mono, b.Mono) || !scoresClose(a.Cross, b.Cross) || !scoresClose(a.Multi, b.Multi) ||
		len(a.Languages) != len(b.Languages) {
		return false
	}
	for l, x := range a.Languages {
		y, ok := b.Languages[l]
		if !ok || x.MultiQueries != y.MultiQueries || x.CrossSettings != y.CrossSettings ||
			!scoresClose(x.Multi, y.Multi) || !scoresClose(x.Cross, y.Cross) {
			return false
		}
	}
	return true
}
