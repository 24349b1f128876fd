package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"xling/domain"
	"xling/internal/testenv"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
	"xling/sinks"
)

func metricRow(m schemas.Metric) sinks.MetricRow {
	return sinks.MetricRow{RunID: "run1", Model: m.Model, Dataset: m.Dataset, Setting: string(m.Setting), QueryLang: m.QueryLang,
		CandLang: m.CandLang, QueryID: m.QueryID, Metric: m.Name, Value: m.Value, Queries: m.Queries, Time: t0}
}

// t0 is the rows' time: whole milliseconds, as the table keeps it.
var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

var (
	mono  = schemas.Metric{Dataset: "toy", Model: "m", Setting: domain.Mono, QueryLang: "en", CandLang: "en", Name: "map", Value: .5, Queries: 2}
	cross = schemas.Metric{Dataset: "toy", Model: "m", Setting: domain.Cross, QueryLang: "en", CandLang: "de", Name: "map", Value: 1, Queries: 2}
	multi = schemas.Metric{Dataset: "toy", Model: "m", Setting: domain.Multi, QueryLang: "en", CandLang: "*", QueryID: "en/q/A", Name: "map", Value: 5.0 / 6, Queries: 1}
	bogus = schemas.Metric{Dataset: "toy", Model: "m", Setting: "bogus", QueryLang: "en", CandLang: "en", Name: "map", Value: 1, Queries: 2}
	// The table keeps each row once: mono again (a replay) is dropped, bogus is dead-lettered.
	input = []schemas.Metric{mono, cross, bogus, mono, multi}
	table = []sinks.MetricRow{
		{RunID: "run1", Model: "m", Dataset: "toy", Setting: "mono", QueryLang: "en", CandLang: "en", Metric: "map", Value: .5, Queries: 2, Time: t0},
		{RunID: "run1", Model: "m", Dataset: "toy", Setting: "cross", QueryLang: "en", CandLang: "de", Metric: "map", Value: 1, Queries: 2, Time: t0},
		{RunID: "run1", Model: "m", Dataset: "toy", Setting: "multi", QueryLang: "en", CandLang: "*", QueryID: "en/q/A", Metric: "map", Value: 5.0 / 6, Queries: 1, Time: t0},
	}
)

// newTable returns a metrics sink writing to path; the writer is aborted when the test ends (a no-op once
// committed).
func newTable(t *testing.T, w pipeline.Worker, path string, observe func(schemas.Metric)) *Table[schemas.Metric, sinks.MetricRow] {
	t.Helper()
	wr, err := sinks.Create[sinks.MetricRow](path, sinks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wr.Abort() })
	return New("sink-metrics", w.Topics.Metrics(), wr, One(metricRow), observe)
}

func readTable(t *testing.T, path string) []sinks.MetricRow {
	t.Helper()
	rows, err := parquet.ReadFile[sinks.MetricRow](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestSinkWritesEachRowOnceAndDeadLettersInvalidRows(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 2)
	pipelinetest.Produce(t, ctx, w, w.Topics.Metrics(), "toy", input)
	path := filepath.Join(t.TempDir(), "metrics.parquet")
	var observed []schemas.Metric
	tb := newTable(t, w, path, func(m schemas.Metric) { observed = append(observed, m) })

	process := tb.Stage.Process
	var existedMidway, settledMidway bool
	tb.Stage.Process = func(ctx context.Context, key string, rows []schemas.Metric, o *pipeline.Output) error {
		existedMidway, settledMidway = exists(path), tb.Stage.Settled()
		return process(ctx, key, rows, o)
	}
	if err := pipeline.Run(ctx, w, tb.Stage); err != nil {
		t.Fatal(err)
	}
	if existedMidway || settledMidway {
		t.Errorf("while writing: file exists %v, settled %v; want neither before the table is committed", existedMidway, settledMidway)
	}
	if !tb.Stage.Settled() {
		t.Error("not settled after the table was committed")
	}
	if got := readTable(t, path); !reflect.DeepEqual(got, table) {
		t.Errorf("table rows\n got %+v\nwant %+v", got, table)
	}
	if tb.File.Path != path || tb.File.Rows != 3 {
		t.Errorf("committed file %+v, want %s with 3 rows", tb.File, path)
	}
	if want := []schemas.Metric{mono, cross, multi}; !reflect.DeepEqual(observed, want) {
		t.Errorf("observed %+v, want the 3 rows written", observed)
	}
	if reasons := pipelinetest.DeadLetters(m, w); len(reasons) != 1 || !strings.Contains(reasons[0], `setting "bogus"`) {
		t.Errorf("dead letters = %q, want one for the bogus setting", reasons)
	}
	// In = Out + Dead; a replayed row is accepted but not landed again.
	if got, want := tb.Stage.Counts.Snapshot(), (pipeline.Snapshot{In: 5, Out: 4, Dead: 1, Emitted: 3}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

// A sink that fails before committing its table has committed no offsets: started again, it reads the
// whole topic and writes the whole table.
func TestSinkCommitsOffsetsOnlyWithItsTable(t *testing.T) {
	ctx, _, w := pipelinetest.Setup(t, 1)
	pipelinetest.Produce(t, ctx, w, w.Topics.Metrics(), "toy", input)
	path := filepath.Join(t.TempDir(), "metrics.parquet")

	first := newTable(t, w, path, nil)
	first.Stage.Finish = func(context.Context, *pipeline.Output) error { return errors.New("crash before commit") }
	if err := pipeline.Run(ctx, w, first.Stage); err == nil || !strings.Contains(err.Error(), "crash before commit") {
		t.Fatalf("first run: err = %v, want the crash", err)
	}
	if exists(path) {
		t.Fatal("a table exists after a crash before its commit")
	}
	second := newTable(t, w, path, nil)
	if err := pipeline.Run(ctx, w, second.Stage); err != nil {
		t.Fatal(err)
	}
	if got := readTable(t, path); !reflect.DeepEqual(got, table) {
		t.Errorf("table after the restart\n got %+v\nwant %+v", got, table)
	}
	if got := second.Stage.Counts.Snapshot(); got.In != 5 {
		t.Errorf("the restart read %d rows, want all 5", got.In)
	}
}

// A sink restarted after it committed its table (and its offsets with it) has nothing left to read: the
// table stays as it was, not replaced by an empty one.
func TestSinkRestartedAfterCommitKeepsTheTable(t *testing.T) {
	ctx, _, w := pipelinetest.Setup(t, 1)
	pipelinetest.Produce(t, ctx, w, w.Topics.Metrics(), "toy", input)
	path := filepath.Join(t.TempDir(), "metrics.parquet")
	if err := pipeline.Run(ctx, w, newTable(t, w, path, nil).Stage); err != nil {
		t.Fatal(err)
	}
	again := newTable(t, w, path, nil)
	if err := pipeline.Run(ctx, w, again.Stage); err != nil {
		t.Fatal(err)
	}
	if got := readTable(t, path); !reflect.DeepEqual(got, table) {
		t.Errorf("table after a restart of the finished sink: %d rows %+v, want the %d rows", len(got), got, len(table))
	}
	if c := again.Stage.Counts.Snapshot(); c.In != 0 {
		t.Errorf("the restarted sink read %d records, want none", c.In)
	}
}

// A sink whose disk fills fails naming its table and ENOSPC, leaves nothing on the disk, and has committed
// no offsets: started again on a disk with room, it reads the whole topic and writes the whole table.
func TestSinkOnAFullDiskFailsAndCommitsNoOffsets(t *testing.T) {
	ctx, _, w := pipelinetest.Setup(t, 1)
	// 400 metrics with 2 KiB query ids of random hex: 800 KiB that Snappy barely shrinks, past the disk.
	rng := rand.New(rand.NewPCG(1, 2))
	var metrics []schemas.Metric
	for i := range 400 {
		id := make([]byte, 1024)
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		m := mono
		m.QueryID = fmt.Sprintf("en/q/%d/%x", i, id)
		metrics = append(metrics, m)
	}
	pipelinetest.Produce(t, ctx, w, w.Topics.Metrics(), "toy", metrics)

	dir := testenv.SmallDisk(t, 256<<10)
	full := filepath.Join(dir, "metrics.parquet")
	err := pipeline.Run(ctx, w, newTable(t, w, full, nil).Stage)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), full) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("run on a 256 KiB disk: err = %v\nwant ENOSPC (no space left on device) naming %s", err, full)
	}
	t.Logf("first run: %v", err)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left on the full disk: %s", e.Name())
	}

	roomy := filepath.Join(t.TempDir(), "metrics.parquet")
	again := newTable(t, w, roomy, nil)
	if err := pipeline.Run(ctx, w, again.Stage); err != nil {
		t.Fatal(err)
	}
	if c := again.Stage.Counts.Snapshot(); c.In != int64(len(metrics)) {
		t.Errorf("the restart read %d records, want all %d: offsets were committed past the failed table", c.In, len(metrics))
	}
	if got := readTable(t, roomy); len(got) != len(metrics) {
		t.Errorf("table after the restart: %d rows, want %d", len(got), len(metrics))
	}
}
