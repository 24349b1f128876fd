package score

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"testing"

	"xling/domain"
	"xling/schemas"
)

func rec(lang string, kind domain.Kind, id, qid string, qids []string, v ...float32) schemas.Record {
	return schemas.Record{Dataset: "toy", Lang: lang, Kind: kind, ID: id, QID: qid, QIDs: qids, Vector: v}
}

// The toy dataset, with every score worked by hand below.
//
//	en queries: A (1,0), B (0,1)        en candidates: e1 answers A (.6,.8), e2 answers B (1,0)
//	de queries: A (1,0), B (0,1)        de candidates: d1 answers A (1,0),   d2 answers B (0,1)
//
// en->en: A scores e1 .6 < e2 1, so its answer is 2nd: AP 1/2; B scores e1 .8 > e2 0: AP 1/2. mAP .5
// de->de: both answers first: mAP 1.   en->de: the same query vectors: mAP 1.   de->en: mAP .5
// Mo. = (.5+1)/2 = .75, Cr. = (1+.5)/2 = .75.
// Pool, in language order de then en: d1, d2, e1, e2. Query A: d1 1, d2 0, e1 .6, e2 1; the tie d1/e2 goes
// to the lower index, so the ranking is d1, e2, e1, d2 and A's answers (d1, e1) sit at ranks 1 and 3:
// AP (1/1 + 2/3)/2 = 5/6, rank distance 2. Query B: d1 0, d2 1, e1 .8, e2 0: ranking d2, e1, d1, e2;
// answers d2, e2 at ranks 1 and 4: AP (1 + 2/4)/2 = 3/4, rank distance 3.
// Mul. = (5/6 + 3/4)/2 = 19/24 for both languages; mean rank distance 2.5.
func TestScorerHandWorkedToyDataset(t *testing.T) {
	ctx := context.Background()
	s := New(Config{Model: "m", TopK: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	langs := []string{"de", "en"}
	feed := func(rs []schemas.Record, lang string) Output {
		t.Helper()
		for _, r := range rs {
			if err := s.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		var out Output
		for _, kind := range domain.Kinds() {
			var n int64
			for _, r := range rs {
				if r.Kind == kind {
					n++
				}
			}
			o, err := s.End(ctx, schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: lang, ItemKind: kind, Count: n, Langs: langs})
			if err != nil {
				t.Fatal(err)
			}
			out.Metrics = append(out.Metrics, o.Metrics...)
			out.Rankings = append(out.Rankings, o.Rankings...)
		}
		return out
	}
	en := feed([]schemas.Record{
		rec("en", "query", "en/q/A", "A", nil, 1, 0), rec("en", "query", "en/q/B", "B", nil, 0, 1),
		rec("en", "candidate", "en/c/1", "", []string{"A"}, .6, .8), rec("en", "candidate", "en/c/2", "", []string{"B"}, 1, 0),
	}, "en")
	// Only en->en exists until German arrives.
	if got := settings(en.Metrics); len(got) != 1 || !got["mono en en"] {
		t.Fatalf("after en: settings %v, want only mono en en", got)
	}
	de := feed([]schemas.Record{
		rec("de", "query", "de/q/A", "A", nil, 1, 0), rec("de", "query", "de/q/B", "B", nil, 0, 1),
		rec("de", "candidate", "de/c/1", "", []string{"A"}, 1, 0), rec("de", "candidate", "de/c/2", "", []string{"B"}, 0, 1),
	}, "de")
	got := settings(de.Metrics)
	for _, want := range []string{"mono de de", "cross de en", "cross en de", "multi de *", "multi en *", "mono_mean * *"} {
		if !got[want] {
			t.Errorf("after de: missing setting %s (have %v)", want, got)
		}
	}
	if got["mono en en"] {
		t.Error("after de: en->en was scored again")
	}
	all := append(en.Metrics, de.Metrics...)
	tests := []struct {
		setting domain.Setting
		q, c    string
		metric  string
		want    float64
	}{
		{domain.Mono, "en", "en", "map", .5},
		{domain.Mono, "de", "de", "map", 1},
		{domain.Cross, "en", "de", "map", 1},
		{domain.Cross, "de", "en", "map", .5},
		{domain.Multi, "en", "*", "map", 19.0 / 24},
		{domain.Multi, "de", "*", "map", 19.0 / 24},
		{domain.Multi, "en", "*", "rank_distance", 2.5},
		{domain.MonoMean, "*", "*", "map", .75},
		{domain.CrossMean, "*", "*", "map", .75},
		{domain.MultiMean, "*", "*", "map", 19.0 / 24},
		{domain.MultiMean, "*", "*", "rank_distance", 2.5},
		{domain.DegrMulti, "de", "*", "map", 0},
	}
	for _, tc := range tests {
		v, ok := find(all, tc.setting, tc.q, tc.c, tc.metric)
		if !ok {
			t.Errorf("%s %s->%s %s: missing", tc.setting, tc.q, tc.c, tc.metric)
			continue
		}
		if !(math.Abs(v-tc.want) <= 1e-12) { // fails on NaN too
			t.Errorf("%s %s->%s %s = %v, want %v", tc.setting, tc.q, tc.c, tc.metric, v, tc.want)
		}
	}
	// Per-query values: en/q/A's pooled AP is 5/6; its one cross-lingual setting (en->de) gives AP 1.
	perQuery := map[string]float64{}
	for _, m := range all {
		if m.QueryID != "" && m.Name == "map" {
			perQuery[string(m.Setting)+" "+m.QueryID] = m.Value
		}
	}
	for key, want := range map[string]float64{"multi en/q/A": 5.0 / 6, "cross en/q/A": 1, "cross de/q/B": .5, "mono en/q/B": .5} {
		if got, ok := perQuery[key]; !ok || !(math.Abs(got-want) <= 1e-12) {
			t.Errorf("per-query %s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	// Query A's pooled top 2: d1 then e2 (the tie goes to the lower pool index); d1 is relevant, e2 is not.
	var top []schemas.Ranking
	for _, r := range de.Rankings {
		if r.Setting == domain.Multi && r.QueryID == "en/q/A" {
			top = append(top, r)
		}
	}
	if len(top) != 1 || !slices.Equal(top[0].CandidateIDs, []string{"de/c/1", "en/c/2"}) || !slices.Equal(top[0].Relevant, []int64{1}) {
		t.Errorf("pooled top 2 of en/q/A = %+v, want one list: de/c/1 (relevant), en/c/2", top)
	}
}

func TestScorerRejectsCountMismatchAndBadVectors(t *testing.T) {
	s := New(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Add(rec("en", "query", "en/q/A", "A", nil, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(rec("en", "query", "en/q/B", "B", nil, 1, 0, 0)); err == nil {
		t.Error("a 3-dimensional vector among 2-dimensional ones was accepted")
	}
	// Two records arrived (one rejected): a marker counting three means one was lost.
	if _, err := s.End(context.Background(), schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: "en", ItemKind: "query", Count: 3}); err == nil {
		t.Error("a stream-end marker counting more records than arrived was accepted")
	}
	if _, err := s.End(context.Background(), schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: "en", ItemKind: "query", Count: 2}); err != nil {
		t.Errorf("marker counting the accepted and the rejected record: %v", err)
	}
}

func settings(ms []schemas.Metric) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		out[string(m.Setting)+" "+m.QueryLang+" "+m.CandLang] = true
	}
	return out
}

func find(ms []schemas.Metric, setting domain.Setting, q, c, name string) (float64, bool) {
	for _, m := range ms {
		if m.QueryID == "" && m.Setting == setting && m.QueryLang == q && m.CandLang == c && m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// A setting is handed to emit a block of queries at a time (flushRankings rankings), so a pool of many
// queries is never held whole; the blocks together are what End returns in one piece.
func TestEndToHandsOnASettingABlockOfQueriesAtATime(t *testing.T) {
	const topK = flushRankings / 2 // two queries a block
	records := func() []schemas.Record {
		var rs []schemas.Record
		for i, qid := range []string{"A", "B", "C", "D", "E"} {
			rs = append(rs, rec("en", "query", "en/q/"+qid, qid, nil, float32(i), 1))
		}
		for i := range 3 {
			rs = append(rs, rec("en", "candidate", fmt.Sprintf("en/c/%d", i), "", []string{"A", "B", "C", "D", "E"}, 1, float32(i)))
		}
		return rs
	}
	marker := func(kind domain.Kind, n int64) schemas.Marker {
		return schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: "en", ItemKind: kind, Count: n, Langs: []string{"en"}}
	}
	feed := func(s *Scorer) {
		for _, r := range records() {
			if err := s.Add(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	log := slog.New(slog.DiscardHandler)
	whole := New(Config{Model: "m", TopK: topK}, log)
	feed(whole)
	if _, err := whole.End(context.Background(), marker(domain.Query, 5)); err != nil {
		t.Fatal(err)
	}
	want, err := whole.End(context.Background(), marker(domain.Candidate, 3))
	if err != nil {
		t.Fatal(err)
	}

	blocks := New(Config{Model: "m", TopK: topK}, log)
	feed(blocks)
	var got Output
	var sizes []int
	emit := func(o Output) error {
		sizes = append(sizes, len(o.Rankings))
		got.Metrics = append(got.Metrics, o.Metrics...)
		got.Rankings = append(got.Rankings, o.Rankings...)
		return nil
	}
	for _, m := range []schemas.Marker{marker(domain.Query, 5), marker(domain.Candidate, 3)} {
		if err := blocks.EndTo(context.Background(), m, emit); err != nil {
			t.Fatal(err)
		}
	}
	// mono en->en: 5 queries in blocks of 2, a list of 3 each; then the pool (en alone) the same way; then
	// the dataset's summary metrics.
	wantSizes := []int{2, 2, 1, 2, 2, 1, 0}
	if !slices.Equal(sizes, wantSizes) {
		t.Errorf("emitted ranking lists %v, want blocks %v", sizes, wantSizes)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the blocks together differ from End's output:\n got %d rankings, %d metrics\nwant %d, %d",
			len(got.Rankings), len(got.Metrics), len(want.Rankings), len(want.Metrics))
	}
}
