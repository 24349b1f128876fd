package score

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"xling/domain"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

// randomDataset is a LAReQA-shaped dataset with many exact ties: components from {-1, -0.5, 0, 0.5, 1}
// in few dimensions, some candidates copies of others, some questions missing from a language, some
// candidates answering two questions and most answering none. Each language's queries then candidates,
// each closed by its stream-end marker, one message of records each.
func randomDataset(seed uint64, langs []string, qids, cands, dim int) [][]schemas.Record {
	r := rand.New(rand.NewPCG(seed, 7))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(r.IntN(5)-2) / 2
		}
		return v
	}
	var parts [][]schemas.Record
	for _, l := range langs {
		var qs, cs []schemas.Record
		for q := range qids {
			if r.IntN(6) == 0 {
				continue // the question is missing here
			}
			qs = append(qs, schemas.Record{Dataset: "rand", Lang: l, Kind: domain.Query, ID: fmt.Sprintf("q%x", r.Uint32()), QID: fmt.Sprint("q", q), Model: "m", Vector: vec()})
		}
		for c := range cands {
			rec := schemas.Record{Dataset: "rand", Lang: l, Kind: domain.Candidate, ID: fmt.Sprintf("c%x", r.Uint32()), Model: "m", Vector: vec()}
			if c > 0 && r.IntN(4) == 0 {
				rec.Vector = slices.Clone(cs[r.IntN(len(cs))].Vector) // an exact tie with another candidate
			}
			switch n := r.IntN(10); {
			case n < 2:
				rec.QIDs = []string{fmt.Sprint("q", r.IntN(qids))}
			case n == 2:
				a := r.IntN(qids)
				rec.QIDs = []string{fmt.Sprint("q", a), fmt.Sprint("q", (a+1+r.IntN(qids-1))%qids)}
			}
			cs = append(cs, rec)
		}
		parts = append(parts, qs, cs)
	}
	return parts
}

// produceDataset writes the parts to the embeddings topic on the dataset's key, each message repeat
// times (a replay) before its stream-end marker, then ends the run.
func produceDataset(t *testing.T, ctx context.Context, w pipeline.Worker, langs []string, repeat int, parts [][]schemas.Record) {
	t.Helper()
	src := pipeline.NewSource("test", w)
	topic := w.Topics.Embeddings()
	for _, p := range parts {
		out := src.Output("test")
		for range repeat {
			if err := pipeline.Emit(out, topic, "rand", p...); err != nil {
				t.Fatal(err)
			}
		}
		out.EndStream(topic.Name, "rand", schemas.Marker{Kind: schemas.StreamEnd, Dataset: "rand", Lang: p[0].Lang, ItemKind: p[0].Kind, Langs: langs})
		if err := src.Send(ctx, int64(len(p)*repeat), out); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.EndRun(ctx, topic.Name); err != nil {
		t.Fatal(err)
	}
}

// scored is what a scoring run wrote, each table sorted (the stages' order of rows is not part of the
// contract: the sinks' tables are), and how many candidates each shard held.
type scored struct {
	rankings []schemas.Ranking
	metrics  []schemas.Metric
	held     []int
}

// scoreRun scores the dataset with one scorer (shards < 2) or with shards score shards and the merge
// stage, all running at once on the in-memory transport.
func scoreRun(t *testing.T, shards, topK, repeat int, langs []string, parts [][]schemas.Record) scored {
	t.Helper()
	ctx, m, w := pipelinetest.Setup(t, 2, pipeline.Topics{Prefix: "test."}.Partials().Name)
	produceDataset(t, ctx, w, langs, repeat, parts)
	g, gctx := errgroup.WithContext(ctx)
	var res scored
	var scorers []*Scorer
	cfg := Config{Model: "fallback", TopK: topK, Workers: 1}
	if shards < 2 {
		st := Stage(w.Topics, New(cfg, quiet()))
		g.Go(func() error { return pipeline.Run(gctx, w, st) })
	} else {
		for i := range shards {
			c := cfg
			c.Shard = Shard{Index: i, Of: shards}
			sc := New(c, quiet())
			scorers = append(scorers, sc)
			st := ShardStage(w.Topics, sc)
			g.Go(func() error { return pipeline.Run(gctx, w, st) })
		}
		mst := MergeStage(w.Topics, NewMerger(cfg, quiet()))
		g.Go(func() error { return pipeline.Run(gctx, w, mst) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("%d shards: %v", shards, err)
	}
	for _, sc := range scorers {
		n := 0
		for _, l := range sc.datasets["rand"].langs {
			n += len(l.cands.entries)
		}
		res.held = append(res.held, n)
	}
	if dl := pipelinetest.DeadLetters(m, w); len(dl) > 0 {
		t.Fatalf("%d shards: dead letters %q", shards, dl)
	}
	res.rankings = pipelinetest.Read(t, m, w.Topics.Rankings()).Rows
	res.metrics = pipelinetest.Read(t, m, w.Topics.Metrics()).Rows
	slices.SortFunc(res.rankings, func(a, b schemas.Ranking) int {
		return cmp.Or(strings.Compare(string(a.Setting), string(b.Setting)), strings.Compare(a.QueryLang, b.QueryLang),
			strings.Compare(a.CandLang, b.CandLang), strings.Compare(a.QueryID, b.QueryID))
	})
	slices.SortFunc(res.metrics, func(a, b schemas.Metric) int {
		return cmp.Or(strings.Compare(string(a.Setting), string(b.Setting)), strings.Compare(a.QueryLang, b.QueryLang),
			strings.Compare(a.CandLang, b.CandLang), strings.Compare(a.QueryID, b.QueryID), strings.Compare(a.Name, b.Name))
	})
	return res
}

// Sharded scoring gives the rankings and metrics of one scorer, value for value (scores and metric values
// compared as bits by DeepEqual's ==), on random data full of ties, whatever the number of shards, and
// however often the embeddings are replayed; each shard holds only its part of the candidates.
func TestShardedScoringEqualsOneScorer(t *testing.T) {
	tests := []struct {
		name                   string
		seed                   uint64
		langs                  []string
		qids, cands, dim, topK int
		shards                 []int
		repeat                 int
	}{
		{"three languages, ties, 2 3 and 5 shards", 1, []string{"de", "en", "fr"}, 30, 60, 3, 5, []int{2, 3, 5}, 1},
		{"top list longer than a shard", 2, []string{"en", "zh"}, 12, 20, 2, 15, []int{2, 4}, 1},
		{"embeddings replayed before their markers", 3, []string{"ar", "en"}, 15, 40, 3, 4, []int{3}, 2},
		{"more shards than some languages have candidates", 4, []string{"de", "en"}, 6, 5, 2, 3, []int{8}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := randomDataset(tt.seed, tt.langs, tt.qids, tt.cands, tt.dim)
			one := scoreRun(t, 1, tt.topK, tt.repeat, tt.langs, parts)
			if len(one.rankings) == 0 || len(one.metrics) == 0 {
				t.Fatal("one scorer wrote no rankings or metrics")
			}
			ties := 0
			for _, r := range one.rankings {
				for i := 1; i < len(r.Scores); i++ {
					if r.Scores[i] == r.Scores[i-1] {
						ties++
					}
				}
			}
			if ties == 0 {
				t.Fatal("no tied scores in the top lists: the test would not see how ties break")
			}
			total := 0
			for _, p := range parts {
				if p[0].Kind == domain.Candidate {
					total += len(p)
				}
			}
			for _, n := range tt.shards {
				got := scoreRun(t, n, tt.topK, tt.repeat, tt.langs, parts)
				if !reflect.DeepEqual(got.rankings, one.rankings) {
					diffRankings(t, n, got.rankings, one.rankings)
				}
				if !reflect.DeepEqual(got.metrics, one.metrics) {
					diffMetrics(t, n, got.metrics, one.metrics)
				}
				held := 0
				for _, h := range got.held {
					held += h
				}
				if held != total || len(got.held) != n {
					t.Errorf("%d shards held %v candidates, want the %d candidates dealt among %d shards", n, got.held, total, n)
				}
			}
		})
	}
}

func diffRankings(t *testing.T, shards int, got, want []schemas.Ranking) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%d shards: ranking %d = %+v, one scorer %+v", shards, i, got[i], want[i])
			return
		}
	}
	t.Errorf("%d shards: %d rankings, one scorer %d", shards, len(got), len(want))
}

func diffMetrics(t *testing.T, shards int, got, want []schemas.Metric) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%d shards: metric %d = %+v, one scorer %+v", shards, i, got[i], want[i])
			return
		}
	}
	t.Errorf("%d shards: %d metrics, one scorer %d", shards, len(got), len(want))
}

// The merger takes each shard's events in order, once each: a replayed event is dropped, a lost one
// or a shard that disagrees with the others is an error, not a wrong row.
func TestMergerRefusesEventsThatDoNotLineUp(t *testing.T) {
	q := func(shard, seq int64, query string) schemas.Partial {
		return schemas.Partial{Dataset: "d", Model: "m", Event: schemas.PartialQuery, Shard: shard, Shards: 2, Seq: seq, Setting: domain.Mono,
			QueryID: query, QueryLang: "en", CandLang: "en", Candidates: 1, CandidateIDs: []string{"c" + fmt.Sprint(shard)},
			CandidateLangs: []string{"en"}, Scores: []float32{1}, Before: []int64{0}}
	}
	tests := []struct {
		name   string
		events []schemas.Partial
		want   string // an error containing it; "" for none
		lists  int    // rankings emitted
	}{
		{"in step", []schemas.Partial{q(0, 0, "a"), q(1, 0, "a")}, "", 1},
		{"a replayed event", []schemas.Partial{q(0, 0, "a"), q(0, 0, "a"), q(1, 0, "a"), q(1, 0, "a")}, "", 1},
		{"a lost event", []schemas.Partial{q(0, 0, "a"), q(0, 2, "b")}, "shard 0 sent event 2, want 1", 0},
		{"shards that disagree", []schemas.Partial{q(0, 0, "a"), q(1, 0, "b")}, `shard 1 sent query mono en->en "b"`, 0},
		{"a shard of no sharding", []schemas.Partial{{Dataset: "d", Shards: 1}}, "event 0 of shard 0 of 1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMerger(Config{TopK: 2}, quiet())
			var err error
			lists := 0
			for _, e := range tt.events {
				if err = m.Add(e, func(o Output) error { lists += len(o.Rankings); return nil }); err != nil {
					break
				}
			}
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if lists != tt.lists {
				t.Errorf("%d rankings emitted, want %d", lists, tt.lists)
			}
		})
	}
}
