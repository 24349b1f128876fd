package evaluate

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"xling/dataset"
	"xling/dataset/datasettest"
	"xling/domain"
	"xling/encoder/hashbag"
	"xling/internal/testenv"
	"xling/metrics"
	"xling/pipeline"
	"xling/sinks"
	"xling/tokenizer/ngram"
)

func smallModel(t testing.TB) string {
	t.Helper()
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1 << 14
	path := filepath.Join(t.TempDir(), "small.onnx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := hashbag.NewRandom(cfg, 32, 32, 7).WriteONNX(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// countDataset counts, independently of the pipeline, the items of the given languages and those whose
// encoded text is over limit bytes (queries: the question; candidates: the sentence).
func countDataset(t *testing.T, dir, name string, langs []string, limit int) (items, over int) {
	t.Helper()
	for _, it := range datasettest.Items(t, dir, name, langs) {
		items++
		if len(it.Text) > limit {
			over++
		}
	}
	return items, over
}

func TestRunEvaluatesThroughTheEmbeddedBroker(t *testing.T) {
	data := testenv.DataDir(t)
	langs := []string{"de", "en", "th"}
	const limit = 300
	cfg := Config{
		DataDir: data, OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: langs},
		Model: smallModel(t), ModelName: "small", RunID: "test", TopK: 3, MaxText: limit,
		ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour, QueryRows: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log, records := testenv.Logger(t)
	res, err := Run(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	// A healthy run warns of nothing: the Kafka clients' retries are debug lines, the data folder's LICENSE
	// is a companion file.
	for _, r := range records() {
		if r["level"] != "INFO" && r["level"] != "DEBUG" {
			t.Errorf("a healthy run logged %v", r)
		}
	}
	if p := Reconcile(res.Counts); len(p) > 0 {
		t.Errorf("books do not balance: %v", p)
	}
	items, over := countDataset(t, data, dataset.XQuADR, langs, limit)
	if over == 0 {
		t.Fatal("test needs some texts over the limit")
	}
	byStage := map[string]StageCounts{}
	for _, c := range res.Counts {
		byStage[c.Stage] = c
	}
	if got := byStage["ingest"].Out; got != int64(items) {
		t.Errorf("ingest out %d, want %d items", got, items)
	}
	if got := byStage["tokenize"].Dead; got != int64(over) {
		t.Errorf("tokenize dead-lettered %d, want the %d texts over %d bytes", got, over, limit)
	}
	if got := byStage["score"].In; got != int64(items-over) {
		t.Errorf("score in %d, want %d", got, items-over)
	}

	// 3 monolingual, 6 cross-lingual and 3 multilingual settings, every one with a full metric set.
	count := map[domain.Setting]map[string]bool{}
	perQuery := map[string]int64{} // setting qlang clang -> per-query rows
	means := map[string]int64{}    // setting qlang clang -> queries averaged
	for _, m := range res.Metrics {
		key := string(m.Setting) + " " + m.QueryLang + " " + m.CandLang
		if m.QueryID != "" {
			perQuery[key]++
			continue
		}
		if m.Name == "map" {
			means[key] = m.Queries
		}
		if count[m.Setting] == nil {
			count[m.Setting] = map[string]bool{}
		}
		count[m.Setting][m.QueryLang+">"+m.CandLang] = true
	}
	for setting, want := range map[domain.Setting]int{domain.Mono: 3, domain.Cross: 6, domain.Multi: 3, domain.MonoMean: 1} {
		if got := len(count[setting]); got != want {
			t.Errorf("%d %s settings, want %d", got, setting, want)
		}
	}
	// Every query of a monolingual or multilingual setting has its own row per metric.
	for key, n := range means {
		if strings.HasPrefix(key, string(domain.Mono)+" ") || strings.HasPrefix(key, string(domain.Multi)+" ") {
			if got, want := perQuery[key], n*int64(len(metrics.All())); got != want {
				t.Errorf("%s: %d per-query rows, want %d", key, got, want)
			}
		}
	}
	for _, l := range langs {
		if perQuery[string(domain.Cross)+" "+l+" *"] == 0 {
			t.Errorf("no per-query cross-lingual rows for %s", l)
		}
	}

	// The Parquet tables read back through arrow-go's pqarrow, an independent reader.
	for _, o := range res.Outputs {
		rows := readParquetRows(t, o.Path)
		if rows != o.Rows {
			t.Errorf("%s: pqarrow reads %d rows, writer reported %d", o.Path, rows, o.Rows)
		}
	}
	man, err := sinks.ReadManifest(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	// Checksums from ../shared/data/DATA.md.
	want := map[string]string{
		"de.json": "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
		"en.json": "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
		"th.json": "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
	}
	for _, d := range man.Data {
		if w, ok := want[filepath.Base(d.Path)]; ok {
			if d.SHA256 != w {
				t.Errorf("manifest: %s sha256 %s, want %s", d.Path, d.SHA256, w)
			}
			delete(want, filepath.Base(d.Path))
		}
	}
	if len(want) > 0 {
		t.Errorf("manifest misses data files %v", want)
	}
}

func readParquetRows(t *testing.T, path string) int64 {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	return tbl.NumRows()
}

func TestRunFailsBeforeAnyWorkOnAMalformedFile(t *testing.T) {
	src := testenv.DataDir(t)
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "xquad-r"), 0o755); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(src, "xquad-r", "en.json"))
	if err != nil {
		t.Fatal(err)
	}
	// en is intact; de is cut in half, as a failed download would leave it.
	if err := os.WriteFile(filepath.Join(data, "xquad-r", "en.json"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "xquad-r", "de.json"), good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cfg := Config{DataDir: data, OutDir: out, Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"en", "de"}},
		Model: smallModel(t), RunID: "bad", ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Run(ctx, cfg, quiet())
	if err == nil {
		t.Fatal("run on a truncated file succeeded")
	}
	if !regexp.MustCompile(`de\.json:\d+:\d+`).MatchString(err.Error()) {
		t.Errorf("error %q does not name the file and position", err)
	}
	// Nothing that looks like a result was left behind.
	matches, _ := filepath.Glob(filepath.Join(out, "bad", "*"))
	if len(matches) > 0 {
		t.Errorf("failed run left %v", matches)
	}
}

// Two runs on one cluster share its topics; each reads only its own records (messages carry the run id),
// so the second run's tables hold its languages alone, and its books balance as if it were alone.
func TestRunsSharingAClusterKeepToTheirOwnData(t *testing.T) {
	data := testenv.DataDir(t)
	b, err := pipeline.Embedded("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	model := smallModel(t)
	results := map[string]*Result{}
	for _, run := range []struct{ id, lang string }{{"first", "de"}, {"second", "zh"}} {
		cfg := Config{
			DataDir: data, OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"en", run.lang}},
			Model: model, ModelName: "small", RunID: run.id, TopK: 3, Brokers: b.Addrs,
			ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour,
		}
		res, err := Run(ctx, cfg, quiet())
		if err != nil {
			t.Fatalf("run %s: %v", run.id, err)
		}
		if p := Reconcile(res.Counts); len(p) > 0 {
			t.Errorf("run %s: books do not balance: %v", run.id, p)
		}
		results[run.id] = res
	}
	items, _ := countDataset(t, data, dataset.XQuADR, []string{"en", "zh"}, 1<<20)
	if got := results["second"].Counts[0].In; got != int64(items) {
		t.Errorf("second run ingested %d items, want %d (en and zh)", got, items)
	}
	for _, c := range results["second"].Counts[1:4] {
		if c.In != int64(items) {
			t.Errorf("second run: %s read %d records, want its own %d", c.Stage, c.In, items)
		}
	}
	for _, m := range results["second"].Metrics {
		if m.QueryLang == "de" || m.CandLang == "de" {
			t.Fatalf("second run has a metric of the first run's language: %+v", m)
		}
		if m.QueryID != "" {
			t.Fatalf("Result holds a query's own row without Config.QueryRows: %+v", m)
		}
	}
	if len(results["second"].Metrics) == 0 {
		t.Fatal("second run has no metric rows")
	}
}

func TestProgressLineShowsRatesAndETAOnceIngestIsDone(t *testing.T) {
	counts := map[string]pipeline.Snapshot{Ingest: {Emitted: 1000}, Tokenize: {In: 800}, Encode: {In: 400}, Score: {In: 200}}
	var stages []stage
	for _, n := range []string{Ingest, Tokenize, Encode, Score, SinkMetrics} {
		stages = append(stages, stage{name: n, counts: func() pipeline.Snapshot { return counts[n] }, finished: new(atomic.Bool)})
	}
	if got, want := progressLine(stages, 10*time.Second), "ingest 1000 | tokenize 800 80/s | encode 400 40/s | score 200 20/s"; got != want {
		t.Errorf("while ingesting: %q, want %q", got, want)
	}
	stages[0].finished.Store(true)
	// encode: 400 of 1000 at 40/s, 600 left: 15 s; score: 200 at 20/s, 800 left: 40 s.
	want := "ingest 1000 | tokenize 800 80/s | encode [########............] 400/1000 40/s ETA 15s | score [####................] 200/1000 20/s ETA 40s"
	if got := progressLine(stages, 10*time.Second); got != want {
		t.Errorf("after ingest:\n got %q\nwant %q", got, want)
	}
}
