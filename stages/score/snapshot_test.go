package score

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/schemas"
)

// langRecords makes a language's queries and candidates for questions q0..q5 from seeded random vectors.
func langRecords(lang string, seed uint64) []schemas.Record {
	r := rand.New(rand.NewPCG(seed, 7))
	vec := func() []float32 {
		v := make([]float32, 4)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	var rs []schemas.Record
	for q := range 6 {
		qid := fmt.Sprintf("q%d", q)
		rs = append(rs, rec(lang, domain.Query, lang+"/q/"+qid, qid, nil, vec()...),
			rec(lang, domain.Candidate, lang+"/c/"+qid, "", []string{qid}, vec()...))
	}
	return rs
}

func feedLang(t *testing.T, s *Scorer, lang string, langs []string) Output {
	t.Helper()
	rs := langRecords(lang, uint64(len(lang)*31+int(lang[0])))
	for _, r := range rs {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var out Output
	for _, kind := range domain.Kinds() {
		o, err := s.End(context.Background(), schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: lang, ItemKind: kind, Count: 6, Langs: langs})
		if err != nil {
			t.Fatal(err)
		}
		out.Metrics = append(out.Metrics, o.Metrics...)
		out.Rankings = append(out.Rankings, o.Rankings...)
	}
	return out
}

func metricKey(m schemas.Metric) string {
	return fmt.Sprintf("%s %s %s %s %s", m.Setting, m.QueryLang, m.CandLang, m.QueryID, m.Name)
}

// A scorer saved after two languages and loaded in a new process scores a third exactly as a scorer that saw
// all three from the start: the same values for the third language's settings, the pool and the summary,
// and no setting of the first two is scored again.
func TestScorerLoadedFromSnapshotScoresOnlyTheNewLanguage(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	old := New(Config{Model: "m", TopK: 3}, quiet)
	feedLang(t, old, "de", []string{"de", "en"})
	feedLang(t, old, "en", []string{"de", "en"})
	var buf bytes.Buffer
	if err := old.Save(&buf); err != nil {
		t.Fatal(err)
	}
	inc := New(Config{Model: "m", TopK: 3}, quiet)
	if err := inc.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if got := inc.Languages("toy"); !slices.Equal(got, []string{"de", "en"}) {
		t.Fatalf("loaded languages %v, want [de en]", got)
	}
	got := feedLang(t, inc, "fr", []string{"fr"})

	scratch := New(Config{Model: "m", TopK: 3}, quiet)
	var want Output
	for _, l := range []string{"de", "en", "fr"} {
		o := feedLang(t, scratch, l, []string{"de", "en", "fr"})
		want.Metrics = append(want.Metrics, o.Metrics...)
	}
	wantByKey := map[string]float64{}
	for _, m := range want.Metrics {
		wantByKey[metricKey(m)] = m.Value
	}

	// The language-pair settings scored: exactly the 2n+1 = 5 with French on a side.
	pairs := map[string]bool{}
	for _, m := range got.Metrics {
		if (m.Setting == domain.Mono || m.Setting == domain.Cross) && m.QueryID == "" {
			pairs[m.QueryLang+"->"+m.CandLang] = true
		}
	}
	wantPairs := []string{"de->fr", "en->fr", "fr->de", "fr->en", "fr->fr"}
	if keys := sortedKeys(pairs); !slices.Equal(keys, wantPairs) {
		t.Errorf("settings scored %v, want %v", keys, wantPairs)
	}
	pools := map[string]bool{}
	for _, m := range got.Metrics {
		if m.Setting == domain.Multi && m.QueryID == "" {
			pools[m.QueryLang] = true
		}
	}
	if keys := sortedKeys(pools); !slices.Equal(keys, []string{"de", "en", "fr"}) {
		t.Errorf("pool settings %v, want every language's", keys)
	}
	for _, m := range got.Metrics {
		w, ok := wantByKey[metricKey(m)]
		if !ok {
			t.Errorf("%s: not in the from-scratch run", metricKey(m))
			continue
		}
		if !(math.Abs(m.Value-w) <= 1e-12) {
			t.Errorf("%s = %v, from scratch %v", metricKey(m), m.Value, w)
		}
	}
	// Every summary row of the from-scratch run is emitted again, with the same value (checked above).
	for _, m := range want.Metrics {
		if m.Setting == domain.MonoMean || m.Setting == domain.CrossMean || m.Setting == domain.MultiMean || m.Setting == domain.DegrMulti {
			if !slices.ContainsFunc(got.Metrics, func(g schemas.Metric) bool { return metricKey(g) == metricKey(m) }) {
				t.Errorf("summary %s missing after the update", metricKey(m))
			}
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestScorerSaveRefusesADatasetInProgress(t *testing.T) {
	s := New(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Add(rec("en", domain.Query, "en/q/A", "A", nil, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(io.Discard); err == nil {
		t.Error("a scorer holding half a language was saved")
	}
}

// A snapshot that is not whole and current is refused, and the scorer keeps what it held: one written in
// another format (gob would read it into the new fields without a word) or with a vector of the wrong size.
func TestScorerLoadRefusesAnotherFormatOrAShortVector(t *testing.T) {
	s := New(Config{Model: "m", TopK: 3}, slog.New(slog.DiscardHandler))
	feedLang(t, s, "en", []string{"en"})
	var good bytes.Buffer
	if err := s.Save(&good); err != nil {
		t.Fatal(err)
	}
	var snap snapshot
	decode := func() {
		t.Helper()
		if err := gob.NewDecoder(bytes.NewReader(good.Bytes())).Decode(&snap); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		change func()
		want   string
	}{
		{"an older format", func() { snap.Format = 1 }, "format 1, want 2"},
		{"a vector cut short", func() {
			e := &snap.Datasets[0].Langs[0].Cands[0]
			e.Vector = e.Vector[:len(e.Vector)-4]
		}, "12 vector bytes, want 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			decode()
			tc.change()
			var bad bytes.Buffer
			if err := gob.NewEncoder(&bad).Encode(snap); err != nil {
				t.Fatal(err)
			}
			fresh := New(Config{Model: "m", TopK: 3}, slog.New(slog.DiscardHandler))
			feedLang(t, fresh, "de", []string{"de"})
			err := fresh.Load(&bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, tc.want)
			}
			if got := fresh.Languages("toy"); !slices.Equal(got, []string{"de"}) {
				t.Errorf("after a refused load the scorer holds %v, want what it held: [de]", got)
			}
		})
	}
}
