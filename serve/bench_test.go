package serve

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"xling/dataset"
	"xling/evaluate"
	"xling/experiment"
	"xling/internal/testenv"
)

// copyDir copies the files under from to to.
func copyDir(b testing.TB, from, to string) {
	b.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(b, path, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkServeIncrement is the time xling serve takes to take up one more language of XQuAD-R (Hindi, the
// 11th: tokenize and encode its items, score its 21 language pairs and the pool) against the time the same
// service takes to evaluate all 11 from scratch, with xling's default encoder (trained on first use, as
// `make run` does). Each turn times a running service, its model already open, from the moment the files
// are copied into its data directory until it is idle with the update recorded: the increment on a state
// directory holding the first ten languages, the full run on an empty one. x-full is the median over
// rounds of full time / increment time: the target, an increment at most 0.35x of the full run, is
// x-full >= 2.86.
func BenchmarkServeIncrement(b *testing.B) {
	ctx := context.Background()
	data := testenv.DataDir(b)
	model, err := experiment.DefaultModel(ctx, filepath.Join(testenv.RepoRoot(b), ".cache"), data, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	langs, err := dataset.Langs(data, []string{dataset.XQuADR}, nil)
	if err != nil {
		b.Fatal(err)
	}
	const added = "hi"
	if len(langs) != 11 || !slices.Contains(langs, added) {
		b.Fatalf("XQuAD-R languages %v: want the 11 with %s", langs, added)
	}
	ten := slices.DeleteFunc(slices.Clone(langs), func(l string) bool { return l == added })
	root := b.TempDir()
	models := filepath.Join(root, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		b.Fatal(err)
	}
	copyFile(b, model, filepath.Join(models, "xling.onnx"))
	turns := 0
	// serve starts a service on a copy of state (none: empty) with the given languages in its data
	// directory, waits until it is idle, then copies more in and times the update they cause.
	serve := func(state string, have, more []string) float64 {
		turns++
		dir := filepath.Join(root, "turn", strconv.Itoa(turns))
		xq := filepath.Join(dir, "data", dataset.XQuADR)
		if err := os.MkdirAll(xq, 0o755); err != nil {
			b.Fatal(err)
		}
		if state != "" {
			copyDir(b, state, filepath.Join(dir, "state"))
		}
		for _, l := range have {
			copyFile(b, filepath.Join(data, dataset.XQuADR, l+".json"), filepath.Join(xq, l+".json"))
		}
		svc := start(b, Config{DataDir: filepath.Join(dir, "data"), ModelsDir: models, StateDir: filepath.Join(dir, "state"),
			Datasets: []string{dataset.XQuADR}, Poll: 50 * time.Millisecond, Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(b)}})
		done := len(svc.waitIdle(b, len(svc.status(b).Service.Done), 0).Service.Done)
		st := svc.status(b)
		begin := time.Now()
		for _, l := range more {
			copyFile(b, filepath.Join(data, dataset.XQuADR, l+".json"), filepath.Join(xq, l+".json"))
		}
		svc.waitIdle(b, done+1, st.Service.Scans)
		secs := time.Since(begin).Seconds()
		if err := svc.stop(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
		return secs
	}
	// The state after the first ten languages, copied for every increment.
	base := filepath.Join(root, "base")
	if err := os.MkdirAll(filepath.Join(root, "base-data", dataset.XQuADR), 0o755); err != nil {
		b.Fatal(err)
	}
	for _, l := range ten {
		copyFile(b, filepath.Join(data, dataset.XQuADR, l+".json"), filepath.Join(root, "base-data", dataset.XQuADR, l+".json"))
	}
	svc := start(b, Config{DataDir: filepath.Join(root, "base-data"), ModelsDir: models, StateDir: base, Datasets: []string{dataset.XQuADR},
		Poll: 50 * time.Millisecond, Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(b)}})
	svc.waitIdle(b, 1, 0)
	if err := svc.stop(); err != nil {
		b.Fatal(err)
	}
	// Turns alternate which goes first, after a warm-up turn each, so that load from elsewhere falls on both;
	// only the timed updates count (testenv.Interleave would time the whole turn, set-up included).
	increment := func() float64 { return serve(base, ten, []string{added}) }
	full := func() float64 { return serve("", nil, langs) }
	increment()
	full()
	b.ResetTimer()
	var inc, fulls, ratios []float64
	for i := range b.N {
		var x, f float64
		if i%2 == 0 {
			x, f = increment(), full()
		} else {
			f, x = full(), increment()
		}
		inc, fulls, ratios = append(inc, x), append(fulls, f), append(ratios, f/x)
	}
	b.ReportMetric(testenv.Median(slices.Clone(ratios)), "x-full")
	b.ReportMetric(slices.Min(ratios), "x-full-min")
	b.ReportMetric(slices.Max(ratios), "x-full-max")
	b.ReportMetric(testenv.Median(inc)*1e3, "increment-ms")
	b.ReportMetric(testenv.Median(fulls)*1e3, "full-ms")
}
