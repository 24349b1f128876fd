package score

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

// The toy dataset of TestScorerHandWorkedToyDataset, with one more English query whose vector has the
// wrong size (rejected), each language's queries then candidates, each closed by its stream-end marker.
var (
	toyEn = model("m", [][]schemas.Record{
		{rec("en", "query", "en/q/A", "A", nil, 1, 0), rec("en", "query", "en/q/B", "B", nil, 0, 1), rec("en", "query", "en/q/C", "C", nil, 1, 0, 0)},
		{rec("en", "candidate", "en/c/1", "", []string{"A"}, .6, .8), rec("en", "candidate", "en/c/2", "", []string{"B"}, 1, 0)},
	})
	toyDe = model("m", [][]schemas.Record{
		{rec("de", "query", "de/q/A", "A", nil, 1, 0), rec("de", "query", "de/q/B", "B", nil, 0, 1)},
		{rec("de", "candidate", "de/c/1", "", []string{"A"}, 1, 0), rec("de", "candidate", "de/c/2", "", []string{"B"}, 0, 1)},
	})
)

// model sets the model that encoded every record.
func model(name string, parts [][]schemas.Record) [][]schemas.Record {
	for _, p := range parts {
		for i := range p {
			p[i].Model = name
		}
	}
	return parts
}

// part is one message of embeddings, sent repeat times (a replay), optionally closed by its stream's marker.
type part struct {
	rows   []schemas.Record
	repeat int
	close  bool
}

// produceToy writes the parts to the embeddings topic on the dataset's key, then ends the run.
func produceToy(t *testing.T, ctx context.Context, w pipeline.Worker, parts ...part) {
	t.Helper()
	src := pipeline.NewSource("test", w)
	topic := w.Topics.Embeddings()
	for _, p := range parts {
		out := src.Output("test")
		for range max(p.repeat, 1) {
			if err := pipeline.Emit(out, topic, "toy", p.rows...); err != nil {
				t.Fatal(err)
			}
		}
		if p.close {
			r := p.rows[0]
			out.EndStream(topic.Name, "toy", schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: r.Lang, ItemKind: r.Kind, Langs: []string{"de", "en"}})
		}
		if err := src.Send(ctx, int64(len(p.rows)*max(p.repeat, 1)), out); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.EndRun(ctx, topic.Name); err != nil {
		t.Fatal(err)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// checkToyMetrics checks the values worked by hand in TestScorerHandWorkedToyDataset ("setting query-lang
// cand-lang metric": value), and that every row names the embeddings' model.
func checkToyMetrics(t *testing.T, ms []schemas.Metric) {
	t.Helper()
	want := map[string]float64{
		"mono en en map": .5, "mono de de map": 1, "cross en de map": 1, "cross de en map": .5,
		"multi en * map": 19.0 / 24, "multi de * map": 19.0 / 24,
		"mono_mean * * map": .75, "cross_mean * * map": .75, "multi_mean * * map": 19.0 / 24, "multi_mean * * rank_distance": 2.5,
	}
	for key, w := range want {
		f := strings.Fields(key)
		v, ok := find(ms, domain.Setting(f[0]), f[1], f[2], f[3])
		if !ok || !(math.Abs(v-w) <= 1e-12) { // fails on NaN too
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, w)
		}
	}
	for _, m := range ms {
		if m.Model != "m" {
			t.Errorf("metric %+v: model %q, want m (the embeddings')", m, m.Model)
			break
		}
	}
}

// A replayed input — records delivered twice before their marker, or a whole language again after it was
// scored — gives the same rankings and metrics, each once. Settled is false from the first record until
// the pool is scored.
func TestStageScoresTheToyDatasetOnceHoweverReplayed(t *testing.T) {
	tests := []struct {
		name    string
		parts   []part
		in      int64 // records read
		dead    int64 // en/q/C, each time it is read before en is scored
		settled []bool
	}{
		{"each record once",
			[]part{{toyEn[0], 1, true}, {toyEn[1], 1, true}, {toyDe[0], 1, true}, {toyDe[1], 1, true}},
			9, 1, []bool{false, false, false, true}},
		{"records replayed before their marker",
			[]part{{toyEn[0], 2, true}, {toyEn[1], 2, true}, {toyDe[0], 2, true}, {toyDe[1], 2, true}},
			18, 2, []bool{false, false, false, true}},
		{"a language replayed after it was scored",
			[]part{{toyEn[0], 1, true}, {toyEn[1], 1, true}, {toyEn[0], 1, true}, {toyEn[1], 1, true}, {toyDe[0], 1, true}, {toyDe[1], 1, true}},
			14, 1, []bool{false, false, false, false, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			produceToy(t, ctx, w, tc.parts...)
			// The embeddings name the model ("m"); the configured name is only a fallback.
			sc := New(Config{Model: "fallback", TopK: 2}, quiet())
			if !sc.Settled() {
				t.Error("an empty scorer is not settled")
			}
			st := Stage(w.Topics, sc)
			var settled []bool
			endMarker := st.End
			st.End = func(ctx context.Context, key string, mk schemas.Marker, o *pipeline.Output) error {
				err := endMarker(ctx, key, mk, o)
				settled = append(settled, sc.Settled())
				return err
			}
			if err := pipeline.Run(ctx, w, st); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(settled, tc.settled) {
				t.Errorf("settled after each marker = %v, want %v", settled, tc.settled)
			}
			rankings := pipelinetest.Read(t, m, w.Topics.Rankings())
			metrics := pipelinetest.Read(t, m, w.Topics.Metrics())
			checkToyMetrics(t, metrics.Rows)

			// A top-2 list for each of 2 queries in mono en, mono de, cross en->de, cross de->en, multi en, multi de.
			if len(rankings.Rows) != 12 {
				t.Errorf("%d ranking lists, want 12", len(rankings.Rows))
			}
			seen := map[string]bool{}
			for _, r := range rankings.Rows {
				k := fmt.Sprint(r.Setting, r.QueryLang, r.CandLang, r.QueryID)
				if seen[k] || len(r.CandidateIDs) != 2 {
					t.Errorf("ranking %s emitted twice, or with %d candidates (want 2)", k, len(r.CandidateIDs))
				}
				seen[k] = true
			}
			for _, r := range metrics.Rows {
				k := fmt.Sprint(r.Setting, r.QueryLang, r.CandLang, r.QueryID, r.Name)
				if seen[k] {
					t.Errorf("metric %s emitted twice", k)
				}
				seen[k] = true
			}
			for _, k := range append(rankings.Keys, metrics.Keys...) {
				if k != "toy" {
					t.Errorf("output keyed %q, want the dataset", k)
				}
			}
			if len(rankings.RunEnds) != 1 || len(metrics.RunEnds) != 1 {
				t.Errorf("run ends: %d on rankings, %d on metrics; want one on each output partition", len(rankings.RunEnds), len(metrics.RunEnds))
			}
			reasons := pipelinetest.DeadLetters(m, w)
			if int64(len(reasons)) != tc.dead || !strings.Contains(reasons[0], "en/q/C has a 3-dimensional vector, dataset toy has 2") {
				t.Errorf("dead letters = %q, want %d for en/q/C's vector", reasons, tc.dead)
			}
			got := st.Counts.Snapshot()
			want := pipeline.Snapshot{In: tc.in, Out: tc.in - tc.dead, Dead: tc.dead, Emitted: int64(len(rankings.Rows) + len(metrics.Rows))}
			if got != want {
				t.Errorf("counts = %+v, want %+v", got, want)
			}
		})
	}
}

// The scorer commits nothing while a dataset is in progress: crashed half way through, it is started
// again from the first embedding; settled after the pool, a restart reads nothing again.
func TestStageCommitsOnlyWhenSettled(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 1)
	produceToy(t, ctx, w, part{toyEn[0], 1, true}, part{toyEn[1], 1, true}, part{toyDe[0], 1, true}, part{toyDe[1], 1, true})
	run := func(crashAt int) (read int, err error) {
		st := Stage(w.Topics, New(Config{Model: "m", TopK: 2}, quiet()))
		process, endMarker := st.Process, st.End
		st.Process = func(ctx context.Context, key string, rows []schemas.Record, o *pipeline.Output) error {
			read += len(rows)
			return process(ctx, key, rows, o)
		}
		markers := 0
		st.End = func(ctx context.Context, key string, mk schemas.Marker, o *pipeline.Output) error {
			if markers++; markers == crashAt {
				return errors.New("crash")
			}
			return endMarker(ctx, key, mk, o)
		}
		return read, pipeline.Run(ctx, w, st)
	}
	// Crash at de's candidate marker: en is scored, the dataset is not.
	if _, err := run(4); err == nil || !strings.Contains(err.Error(), "crash") {
		t.Fatalf("first run: err = %v, want the crash", err)
	}
	read, err := run(0)
	if err != nil {
		t.Fatal(err)
	}
	if read != 9 {
		t.Errorf("restart read %d embeddings, want all 9 (nothing committed mid-dataset)", read)
	}
	checkToyMetrics(t, pipelinetest.Read(t, m, w.Topics.Metrics()).Rows)

	before := len(m.Messages(w.Topics.Metrics().Name)) + len(m.Messages(w.Topics.Rankings().Name))
	if read, err = run(0); err != nil {
		t.Fatal(err)
	}
	after := len(m.Messages(w.Topics.Metrics().Name)) + len(m.Messages(w.Topics.Rankings().Name))
	if read != 0 || after-before != 2 {
		t.Errorf("a restart after the pool read %d embeddings and wrote %d messages, want 0 and the 2 run ends", read, after-before)
	}
}
