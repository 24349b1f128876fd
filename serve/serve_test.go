package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"xling/dataset"
	"xling/domain"
	"xling/evaluate"
	"xling/internal/testenv"
	"xling/internal/testrun"
	"xling/ops"
	"xling/ops/opstest"
	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
)

// writeModel puts a small random encoder (seeded) at path, as someone dropping a model into the folder.
func writeModel(t testing.TB, path string, seed uint64) {
	t.Helper()
	copyFile(t, testrun.Model(t, "m", seed), path)
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// service is a running service with its operations endpoint, as `xling serve` runs it.
type service struct {
	svc  *Service
	url  string
	stop func() error
}

func start(t testing.TB, cfg Config) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lat := ops.NewLatency()
	cfg.Eval.Observe = lat.Observe // as xling serve does: encode and score latency on /metrics
	svc, nerr := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if nerr != nil {
		t.Fatal(nerr)
	}
	h, herr := ops.Handler(svc.Report(lat))
	if herr != nil {
		t.Fatal(herr)
	}
	srv := httptest.NewServer(h)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	s := &service{svc: svc, url: srv.URL}
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
			srv.Close()
			svc.Close()
		})
		return err
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// status is /status as a client reads it.
type status struct {
	RunID   string `json:"run_id"`
	Service struct {
		State    string    `json:"state"`
		Scans    int64     `json:"scans"`
		Done     []Update  `json:"done"`
		Failures []Failure `json:"failures"`
	} `json:"service"`
	Stages []struct {
		Name string `json:"name"`
		In   int64  `json:"in"`
		Dead int64  `json:"dead"`
	} `json:"stages"`
}

func (s *service) status(t testing.TB) status {
	t.Helper()
	resp, err := http.Get(s.url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitIdle waits until the service is idle with done updates recorded, and at least two scans after since.
func (s *service) waitIdle(t testing.TB, done int, since int64) status {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for time.Now().Before(deadline) {
		st := s.status(t)
		if st.Service.State == Idle && len(st.Service.Done) == done && st.Service.Scans >= since+2 {
			return st
		}
		if len(st.Service.Done) > done {
			t.Fatalf("%d updates, want %d: %+v", len(st.Service.Done), done, st.Service.Done)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not idle with %d updates in time: %+v", done, s.status(t))
	return status{}
}

func metricKey(m sinks.MetricRow) string {
	return strings.Join([]string{m.Model, m.Dataset, m.Setting, m.QueryLang, m.CandLang, m.QueryID, m.Metric}, " ")
}

// viewMetrics runs the current view's metrics query with DuckDB, as an analyst would.
func viewMetrics(t *testing.T, state, model, ds string) []sinks.MetricRow {
	t.Helper()
	modules := testenv.NodeModules(t, "@duckdb/node-api")
	cmd := exec.Command("node", "testdata/view.mjs", modules, state, filepath.Join(state, "current", model, ds, "metrics.sql"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node view.mjs: %v\n%s", err, stderr.String())
	}
	var rows []struct {
		RunID     string  `json:"run_id"`
		Setting   string  `json:"setting"`
		QueryLang string  `json:"query_lang"`
		CandLang  string  `json:"cand_lang"`
		QueryID   string  `json:"query_id"`
		Metric    string  `json:"metric"`
		Value     float64 `json:"value"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatal(err)
	}
	ms := make([]sinks.MetricRow, len(rows))
	for i, r := range rows {
		ms[i] = sinks.MetricRow{RunID: r.RunID, Model: model, Dataset: ds, Setting: r.Setting, QueryLang: r.QueryLang,
			CandLang: r.CandLang, QueryID: r.QueryID, Metric: r.Metric, Value: r.Value}
	}
	return ms
}

func readMetrics(t *testing.T, path string) []sinks.MetricRow {
	t.Helper()
	rows, err := parquet.ReadFile[sinks.MetricRow](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// scratch evaluates the langs of the dataset in src (its folder; file names a language's file) from
// scratch with the model, top 3, and returns its metric values by key.
func scratch(t *testing.T, src string, file func(lang string) string, langs []string, model string) map[string]float64 {
	t.Helper()
	ds := filepath.Base(src)
	data := filepath.Join(t.TempDir(), "scratch")
	if err := os.MkdirAll(filepath.Join(data, ds), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range langs {
		copyFile(t, filepath.Join(src, file(l)), filepath.Join(data, ds, file(l)))
	}
	res, err := evaluate.Run(context.Background(), evaluate.Config{DataDir: data, OutDir: t.TempDir(), Datasets: []string{ds},
		Langs: map[string][]string{ds: langs}, Model: model, ModelName: strings.TrimSuffix(filepath.Base(model), ".onnx"), RunID: "scratch",
		TopK: 3, ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, m := range readMetrics(t, filepath.Join(res.Dir, "metrics.parquet")) {
		want[metricKey(m)] = m.Value
	}
	return want
}

// compareMetrics checks that every row holds the value of the same key in want, and with whole, that the
// rows are all of want.
func compareMetrics(t *testing.T, what string, rows []sinks.MetricRow, want map[string]float64, whole bool) {
	t.Helper()
	bad := 0
	for _, m := range rows {
		w, ok := want[metricKey(m)]
		if (!ok || !testenv.Close(m.Value, w, 1e-9)) && bad < 5 {
			bad++
			t.Errorf("%s: %s = %v, from scratch %v (present %v)", what, metricKey(m), m.Value, w, ok)
		}
	}
	if whole && len(rows) != len(want) {
		t.Errorf("%s has %d rows, the from-scratch run %d", what, len(rows), len(want))
	}
}

// languagePairs are the language pairs whose mono or cross-lingual mAP rows holds, sorted.
func languagePairs(rows []sinks.MetricRow) []string {
	pairs := map[string]bool{}
	for _, m := range rows {
		if (m.Setting == "mono" || m.Setting == "cross") && m.QueryID == "" && m.Metric == "map" {
			pairs[m.QueryLang+"->"+m.CandLang] = true
		}
	}
	return slices.Sorted(maps.Keys(pairs))
}

// produceIntake produces the items of a language file to the service's intake topic, as another system
// would: the items, one item intake must refuse, and the stream-end markers.
func produceIntake(t *testing.T, svc *Service, path string) {
	t.Helper()
	files, err := dataset.Files(filepath.Dir(filepath.Dir(path)), filepath.Base(filepath.Dir(path)), []string{strings.TrimSuffix(filepath.Base(path), ".json")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := files[0].Read(dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := pipeline.Worker{Transport: svc.broker, Topics: svc.topics, RunID: IntakeRun}
	topic := w.Topics.Intake()
	src := pipeline.NewSource("another-system", w)
	out := src.Output("")
	key := files[0].Dataset + "/" + files[0].Lang
	bad := res.Items[0]
	bad.Dataset = dataset.XQuAD
	if err := pipeline.Emit(out, topic, "xquad/"+files[0].Lang, bad); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Emit(out, topic, key, res.Items...); err != nil {
		t.Fatal(err)
	}
	for _, kind := range domain.Kinds() {
		out.EndStream(topic.Name, key, schemas.Marker{Kind: schemas.StreamEnd, Dataset: files[0].Dataset, Lang: files[0].Lang, ItemKind: kind})
	}
	if err := src.Send(context.Background(), int64(len(res.Items)+1), out); err != nil {
		t.Fatal(err)
	}
}

// The demo: serve XQuAD-R with three languages, add a fourth (here from the intake topic), and the update scores exactly
// the new settings — 2n+1 = 7 language pairs and the pool of every language — with the values of a
// from-scratch run over all four; a model dropped in is evaluated without a restart; a restart redoes
// nothing; /metrics parses as Prometheus text.
func TestServeScoresOnlyANewLanguagesSettingsAndANewModel(t *testing.T) {
	src := filepath.Join(testenv.DataDir(t), dataset.XQuADR)
	data, models, state := dirs(t, dataset.XQuADR)
	old := []string{"de", "el", "en"}
	for _, l := range old {
		copyFile(t, filepath.Join(src, l+".json"), filepath.Join(data, dataset.XQuADR, l+".json"))
	}
	writeModel(t, filepath.Join(models, "small.onnx"), 7)
	cfg := Config{DataDir: data, ModelsDir: models, StateDir: state, Datasets: []string{dataset.XQuADR}, Poll: 100 * time.Millisecond,
		Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(t), TopK: 3}}
	svc := start(t, cfg)
	st := svc.waitIdle(t, 1, 0)
	if u := st.Service.Done[0]; !u.Full || !slices.Equal(u.Added, old) || u.Settings != 9 || u.Pools != 3 {
		t.Fatalf("first update %+v, want all of %v: 9 language pairs and 3 pools", u, old)
	}

	// Spanish arrives from another system, produced to the intake topic: its items, one item of a dataset
	// that intake cannot write (dead-lettered), and a stream-end marker per kind.
	produceIntake(t, svc.svc, filepath.Join(src, "es.json"))
	st = svc.waitIdle(t, 2, st.Service.Scans)
	inc := st.Service.Done[1]
	if inc.Full || !slices.Equal(inc.Added, []string{"es"}) || inc.Settings != 2*len(old)+1 || inc.Pools != len(old)+1 {
		t.Errorf("update %+v, want es alone: %d language pairs and %d pools", inc, 2*len(old)+1, len(old)+1)
	}
	// What the update's own table holds, read back independently of the service's books.
	var intakeBooks struct{ in, dead int64 }
	for _, s := range st.Stages {
		if s.Name == IntakeRun {
			intakeBooks.in, intakeBooks.dead = s.In, s.Dead
		}
	}
	if intakeBooks.dead != 1 || intakeBooks.in < 2 {
		t.Errorf("intake books %+v, want every item in and the xquad item dead", intakeBooks)
	}
	got := readMetrics(t, filepath.Join(state, "runs", inc.RunID, "metrics.parquet"))
	for _, m := range got {
		if m.RunID != inc.RunID || m.DatasetVersion != inc.DatasetVersion || m.Time.IsZero() {
			t.Fatalf("row not versioned by its update: %+v", m)
		}
	}
	want := []string{"de->es", "el->es", "en->es", "es->de", "es->el", "es->en", "es->es"}
	if pairs := languagePairs(got); !slices.Equal(pairs, want) {
		t.Errorf("language pairs scored %v, want %v", pairs, want)
	}

	// A from-scratch run over all four languages: the update's rows, and the current view, hold its values.
	all := append(slices.Clone(old), "es")
	wantByKey := scratch(t, src, func(l string) string { return l + ".json" }, all, filepath.Join(models, "small.onnx"))
	compareMetrics(t, "update", got, wantByKey, false)
	compareMetrics(t, "current view", viewMetrics(t, state, "small", dataset.XQuADR), wantByKey, true)

	// A second model dropped in is evaluated on every language, with no restart.
	writeModel(t, filepath.Join(models, "small2.onnx"), 11)
	st = svc.waitIdle(t, 3, st.Service.Scans)
	if u := st.Service.Done[2]; u.Model != "small2" || !u.Full || !slices.Equal(u.Added, all) || u.Settings != 16 || u.Pools != 4 {
		t.Errorf("new model's update %+v, want small2 on all four languages", u)
	}

	// /metrics in the Prometheus text format, parsed by Prometheus' own parser.
	families := opstest.Scrape(t, svc.url)
	value := func(name string, labels map[string]string) (float64, bool) {
		f := families[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"xling_serve_updates_total", map[string]string{"kind": "full"}, 2},
		{"xling_serve_updates_total", map[string]string{"kind": "incremental"}, 1},
		{"xling_serve_settings_computed_total", map[string]string{"setting": "pair"}, 9 + 7 + 16},
		{"xling_serve_settings_computed_total", map[string]string{"setting": "pool"}, 3 + 4 + 4},
		{"xling_consumer_lag_records", map[string]string{"stage": "encode"}, 0},
		{"xling_consumer_lag_records", map[string]string{"stage": "sink-metrics"}, 0},
	} {
		if v, ok := value(c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, ok := value("xling_stage_records_in_total", map[string]string{"stage": "encode"}); !ok || !(v > 0) {
		t.Errorf("encode records in = %v (present %v)", v, ok)
	}
	stages := map[string]uint64{}
	for _, m := range families["xling_stage_message_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			stages[l.GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	if stages["encode"] == 0 || stages["score"] == 0 {
		t.Errorf("latency histogram samples by stage %v, want encode and score", stages)
	}

	// A restart reads the ledger and redoes nothing.
	if err := svc.stop(); err != nil {
		t.Fatal(err)
	}
	again := start(t, cfg)
	st = again.waitIdle(t, 3, 0)
	if n := len(st.Service.Failures); n != 0 {
		t.Errorf("failures after restart: %+v", st.Service.Failures)
	}
	// After the restart a fifth language is scored against the four from the snapshot on disk (the
	// scorer an update leaves in memory is gone with the process).
	copyFile(t, filepath.Join(src, "zh.json"), filepath.Join(data, dataset.XQuADR, "zh.json"))
	st = again.waitIdle(t, 5, st.Service.Scans) // zh for small and for small2
	for _, u := range st.Service.Done[3:] {
		if u.Full || !slices.Equal(u.Added, []string{"zh"}) || u.Settings != 2*len(all)+1 || u.Pools != len(all)+1 {
			t.Errorf("update after the restart %+v, want zh alone: %d pairs and %d pools", u, 2*len(all)+1, len(all)+1)
		}
	}
}

// The demo as a user would run it on raw XQuAD (SQuAD-format files, sentences split by xling):
// serve three languages, drop a fourth file into the folder, and the update scores exactly its 2n+1
// language pairs and the pools, with the values of a from-scratch run over all four.
func TestServeTakesUpARawXQuADFileDroppedIntoItsFolder(t *testing.T) {
	src := filepath.Join(testenv.DataDir(t), dataset.XQuAD)
	data, models, state := dirs(t, dataset.XQuAD)
	file := func(l string) string { return "xquad." + l + ".json" } // as the dataset ships
	old := []string{"de", "en", "th"}
	for _, l := range old {
		copyFile(t, filepath.Join(src, file(l)), filepath.Join(data, dataset.XQuAD, file(l)))
	}
	writeModel(t, filepath.Join(models, "small.onnx"), 7)
	svc := start(t, Config{DataDir: data, ModelsDir: models, StateDir: state, Datasets: []string{dataset.XQuAD}, Poll: 100 * time.Millisecond,
		Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(t), TopK: 3}})
	st := svc.waitIdle(t, 1, 0)
	if u := st.Service.Done[0]; !u.Full || !slices.Equal(u.Added, old) || u.Settings != 9 || u.Pools != 3 {
		t.Fatalf("first update %+v, want all of %v: 9 language pairs and 3 pools", u, old)
	}
	copyFile(t, filepath.Join(src, file("zh")), filepath.Join(data, dataset.XQuAD, file("zh")))
	st = svc.waitIdle(t, 2, st.Service.Scans)
	inc := st.Service.Done[1]
	if inc.Full || !slices.Equal(inc.Added, []string{"zh"}) || inc.Settings != 7 || inc.Pools != 4 {
		t.Errorf("update %+v, want zh alone: 7 language pairs and 4 pools", inc)
	}
	got := readMetrics(t, filepath.Join(state, "runs", inc.RunID, "metrics.parquet"))
	want := []string{"de->zh", "en->zh", "th->zh", "zh->de", "zh->en", "zh->th", "zh->zh"}
	if pairs := languagePairs(got); !slices.Equal(pairs, want) {
		t.Errorf("language pairs scored %v, want %v", pairs, want)
	}
	wantByKey := scratch(t, src, file, append(slices.Clone(old), "zh"), filepath.Join(models, "small.onnx"))
	compareMetrics(t, "update", got, wantByKey, false)
	compareMetrics(t, "current view", viewMetrics(t, state, "small", dataset.XQuAD), wantByKey, true)

	// A snapshot that does not read (cut short, or of another format) is no reason to stop: after a restart
	// the next language's update evaluates every language again.
	if err := svc.stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, inc.Snapshot), []byte("not a snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	again := start(t, Config{DataDir: data, ModelsDir: models, StateDir: state, Datasets: []string{dataset.XQuAD}, Poll: 100 * time.Millisecond,
		Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(t), TopK: 3}})
	st = again.waitIdle(t, 2, 0)
	copyFile(t, filepath.Join(src, file("es")), filepath.Join(data, dataset.XQuAD, file("es")))
	st = again.waitIdle(t, 3, st.Service.Scans)
	if u := st.Service.Done[2]; !u.Full || len(u.Added) != 5 || u.Settings != 25 || u.Pools != 5 {
		t.Errorf("update after the snapshot was lost %+v, want a full one: 25 language pairs and 5 pools", u)
	}
}

// Bad input in the watched folders — a half-copied dataset file, a model file that is not ONNX, a model
// directory without its tokenizer — is reported on /status naming the file, and
// the service evaluates what is good and keeps running; a mended file is taken up.
func TestServeReportsBadFilesAndKeepsServing(t *testing.T) {
	src := filepath.Join(testenv.DataDir(t), dataset.XQuADR)
	data, models, state := dirs(t, dataset.XQuADR)
	xq := filepath.Join(data, dataset.XQuADR)
	if err := os.MkdirAll(filepath.Join(models, "nodir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"de", "en"} {
		copyFile(t, filepath.Join(src, l+".json"), filepath.Join(xq, l+".json"))
	}
	whole, err := os.ReadFile(filepath.Join(src, "el.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		filepath.Join(xq, "el.json"):                 whole[:len(whole)/2], // a copy cut off half-way
		filepath.Join(models, "broken.onnx"):         []byte("this is not an ONNX model"),
		filepath.Join(models, "nodir", "xling.json"): []byte(`{"pooling": "mean"}`),
		filepath.Join(models, "nodir", "model.onnx"): []byte("x"),
	}
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeModel(t, filepath.Join(models, "small.onnx"), 7)
	svc := start(t, Config{DataDir: data, ModelsDir: models, StateDir: state, Datasets: []string{dataset.XQuADR},
		Poll: 100 * time.Millisecond, Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(t), TopK: 3}})
	st := svc.waitIdle(t, 1, 0)
	wantFailures := map[string]string{ // what failed -> a word its error must hold
		filepath.Join(xq, "el.json"):   "el.json",
		filepath.Join(models, "nodir"): "tokenizer.json",
	}
	got := map[string]string{}
	for _, f := range st.Service.Failures {
		got[f.What] = f.Error
	}
	for what, word := range wantFailures {
		if !strings.Contains(got[what], word) {
			t.Errorf("failure of %s = %q, want one naming %q (all: %v)", what, got[what], word, got)
		}
	}
	// broken.onnx reads as a model until ONNX Runtime opens it, when the service finds it.
	if e := got[filepath.Join(models, "broken.onnx")]; !strings.Contains(e, "broken.onnx") || !strings.Contains(e, "Protobuf") {
		t.Errorf("failure of broken.onnx = %q, want ONNX Runtime's refusal naming the file (all: %v)", e, got)
	}
	// The good model was evaluated on the good languages.
	var good *Update
	for i, u := range st.Service.Done {
		if u.Model == "small" {
			good = &st.Service.Done[i]
		}
	}
	if good == nil || !slices.Equal(good.Added, []string{"de", "en"}) {
		t.Fatalf("updates %+v, want small on de and en", st.Service.Done)
	}

	// The copy completes: el is taken up by an incremental update, and its failure is gone.
	if err := os.WriteFile(filepath.Join(xq, "el.json"), whole, 0o644); err != nil {
		t.Fatal(err)
	}
	st = svc.waitIdle(t, 2, st.Service.Scans)
	if u := st.Service.Done[1]; u.Model != "small" || u.Full || !slices.Equal(u.Added, []string{"el"}) {
		t.Errorf("update after the mend %+v, want el added for small", u)
	}
	for _, f := range st.Service.Failures {
		if f.What == filepath.Join(xq, "el.json") {
			t.Errorf("el.json still failed after its copy completed: %+v", f)
		}
	}
}

func TestFailedUpdatesAreRetriedAfterADoublingBackoff(t *testing.T) {
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {7, time.Hour}, {40, time.Hour}, {1 << 20, time.Hour}} {
		if got := retryAfter(c.failures); got != c.want {
			t.Errorf("after %d failures: retry in %v, want %v", c.failures, got, c.want)
		}
	}
}

// dirs makes a service's folders in a new temporary directory: data, holding an empty folder for dataset
// ds, and models; state is where the service's state goes (it makes the folder itself).
func dirs(t *testing.T, ds string) (data, models, state string) {
	t.Helper()
	root := t.TempDir()
	data, models, state = filepath.Join(root, "data"), filepath.Join(root, "models"), filepath.Join(root, "state")
	for _, d := range []string{filepath.Join(data, ds), models} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return data, models, state
}
