package assemble

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"xling/batching"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

// groups returns parallel en/de groups whose texts name their language, role and group.
func groups(ids ...string) []batching.Group {
	var gs []batching.Group
	for _, id := range ids {
		g := batching.Group{ID: id, Source: "qa"}
		for _, l := range []string{"de", "en"} {
			g.Texts = append(g.Texts, batching.Text{Lang: l, Query: l + " q " + id, Passage: l + " p " + id})
		}
		gs = append(gs, g)
	}
	return gs
}

// Groups published under another run id on the same topic, and groups a restarted publisher sent twice,
// are not read: each epoch assembles this run's four groups once each, one batch a message.
func TestAssembleBatchesThisRunsGroupsOnce(t *testing.T) {
	tests := []struct {
		name     string
		strategy batching.Strategy
		epochs   int
		batches  int64
	}{
		{"cross, one epoch", batching.StrategyCross(), 1, 2},
		{"cross, two epochs read the topic twice", batching.StrategyCross(), 2, 4},
		{"mono, one epoch", batching.StrategyMono(), 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			topic := w.Topics.TrainSource("qa")
			if err := m.CreateTopics(ctx, 1, topic.Name, w.Topics.Batches().Name); err != nil {
				t.Fatal(err)
			}
			other := w
			other.RunID = "other"
			if _, err := Publish(ctx, pipeline.NewSource("publish", other), other.Topics, batching.SliceSource("qa", groups("x1", "x2"))); err != nil {
				t.Fatal(err)
			}
			// A publisher that stopped after g1 and g2 and started again from the beginning.
			pub := pipeline.NewSource("publish", w)
			out := pub.Output("")
			if err := pipeline.Emit(out, topic, "qa", schemas.GroupRow{ID: "g1", Source: "qa", Langs: []string{"de", "en"}, Queries: []string{"de q g1", "en q g1"}, Passages: []string{"de p g1", "en p g1"}},
				schemas.GroupRow{ID: "g2", Source: "qa", Langs: []string{"de", "en"}, Queries: []string{"de q g2", "en q g2"}, Passages: []string{"de p g2", "en p g2"}}); err != nil {
				t.Fatal(err)
			}
			if err := pub.Send(ctx, 2, out); err != nil {
				t.Fatal(err)
			}
			if n, err := Publish(ctx, pub, w.Topics, batching.SliceSource("qa", groups("g1", "g2", "g3", "g4"))); err != nil || n != 4 {
				t.Fatalf("publish: %d groups, err %v; want 4", n, err)
			}

			src := pipeline.NewSource("assemble", w)
			cfg := batching.Config{Strategy: tc.strategy, BatchSize: 2, Buffer: 4, Seed: 1, Epochs: tc.epochs}
			stats, err := Run(ctx, src, w, cfg, []string{"qa"})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Batches != int(tc.batches) || stats.Pairs != 2*int(tc.batches) || stats.Short != 0 {
				t.Errorf("stats %+v, want %d full batches of 2", stats, tc.batches)
			}

			got := pipelinetest.Read(t, m, w.Topics.Batches())
			if int64(len(got.Keys)) != tc.batches {
				t.Errorf("%d messages, want one per batch (%d)", len(got.Keys), tc.batches)
			}
			for _, k := range got.Keys {
				if k != tc.strategy.String() {
					t.Errorf("batch keyed %q, want the strategy %q", k, tc.strategy)
				}
			}
			perGroup := map[string]int{}
			positions := map[int64][]int64{}
			for _, p := range got.Rows {
				perGroup[p.Group]++
				positions[p.BatchID] = append(positions[p.BatchID], p.Position)
				mono := p.QLang == p.PLang
				if want := tc.strategy == batching.StrategyMono(); mono != want || p.Kind != map[bool]string{true: "mono", false: "cross"}[want] {
					t.Errorf("pair %+v in a %s run", p, tc.strategy)
				}
				if p.Source != "qa" || p.Query != p.QLang+" q "+p.Group || p.Passage != p.PLang+" p "+p.Group {
					t.Errorf("pair %+v does not hold its group's texts", p)
				}
			}
			for _, g := range []string{"g1", "g2", "g3", "g4"} {
				if perGroup[g] != tc.epochs {
					t.Errorf("group %s in %d pairs, want %d (once per epoch); all: %v", g, perGroup[g], tc.epochs, perGroup)
				}
			}
			if len(perGroup) != 4 {
				t.Errorf("pairs from groups %v, want only g1..g4 (x1, x2 belong to another run)", slices.Sorted(maps.Keys(perGroup)))
			}
			for id := range tc.batches {
				if !slices.Equal(positions[id], []int64{0, 1}) {
					t.Errorf("batch %d positions %v, want [0 1]", id, positions[id])
				}
			}
			if len(got.RunEnds) != 1 {
				t.Errorf("%d run ends, want 1", len(got.RunEnds))
			}
			if got, want := src.Counts.Snapshot(), (pipeline.Snapshot{In: 2 * tc.batches, Out: 2 * tc.batches, Emitted: 2 * tc.batches}); got != want {
				t.Errorf("counts = %+v, want %+v", got, want)
			}
		})
	}
}

// A source whose stream-end marker counts more groups than were read is an error, not a short epoch.
func TestSourceRejectsAMarkerCountingLostGroups(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 1)
	topic := w.Topics.TrainSource("qa")
	if err := m.CreateTopics(ctx, 1, topic.Name); err != nil {
		t.Fatal(err)
	}
	rows := []schemas.GroupRow{{ID: "g1", Source: "qa", Langs: []string{"de", "en"}, Queries: []string{"a", "b"}, Passages: []string{"c", "d"}}}
	pipelinetest.Produce(t, ctx, w, topic, "qa", rows)
	// The marker, sent by hand, counts 2 groups where 1 arrived.
	marker, err := schemas.Markers.Encode([]schemas.Marker{{Kind: schemas.StreamEnd, Dataset: "qa", Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Produce(ctx, pipeline.Message{Topic: topic.Name, Partition: 0, Key: []byte("qa"), Value: marker, Headers: []pipeline.Header{
		{Key: schemas.HeaderSchema, Value: []byte(schemas.Markers.ID)}, {Key: pipeline.HeaderRun, Value: []byte(w.RunID)}}}); err != nil {
		t.Fatal(err)
	}
	var n int
	var last error
	for _, err := range Source(ctx, w, "qa").Groups {
		if err != nil {
			last = err
			break
		}
		n++
	}
	if n != 1 || last == nil || !strings.Contains(last.Error(), "1 groups before the stream-end marker, which counts 2") {
		t.Errorf("read %d groups, err %v; want 1 and the count mismatch", n, last)
	}
}
