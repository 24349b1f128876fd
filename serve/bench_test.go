package serve

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
// `make run` does). Each turn is a service started on a state directory, timed until it is idle with the
// update done. x-full is the median over rounds of full time / increment time: the target, an
// increment at most 0.35x of the full run, is x-full >= 2.86.
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
	root := b.TempDir()
	models := filepath.Join(root, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		b.Fatal(err)
	}
	copyFile(b, model, filepath.Join(models, "xling.onnx"))
	dataOf := func(name string, langs []string) string {
		dir := filepath.Join(root, name, dataset.XQuADR)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for _, l := range langs {
			copyFile(b, filepath.Join(data, dataset.XQuADR, l+".json"), filepath.Join(dir, l+".json"))
		}
		return filepath.Dir(dir)
	}
	ten := dataOf("ten", slices.DeleteFunc(slices.Clone(langs), func(l string) bool { return l == added }))
	all := dataOf("all", langs)
	cfg := func(data, state string) Config {
		return Config{DataDir: data, ModelsDir: models, StateDir: state, Datasets: []string{dataset.XQuADR}, Poll: 50 * time.Millisecond,
			Eval: evaluate.Config{ORTLibrary: testenv.ORTLibrary(b)}}
	}
	// The state after the first ten languages, copied for every increment.
	base := filepath.Join(root, "base")
	svc := start(b, cfg(ten, base))
	svc.waitIdle(b, 1, 0)
	if err := svc.stop(); err != nil {
		b.Fatal(err)
	}
	serveUntil := func(data, state string, updates int) {
		svc := start(b, cfg(data, state))
		st := svc.waitIdle(b, updates, 0)
		if err := svc.stop(); err != nil {
			b.Fatal(err)
		}
		if u := st.Service.Done[updates-1]; u.Full != (updates == 1) {
			b.Fatalf("update %+v", u)
		}
	}
	increment := func() {
		state := filepath.Join(root, "inc", time.Now().Format("150405.000000"))
		copyDir(b, base, state)
		serveUntil(all, state, 2)
	}
	full := testenv.Peer{Name: "full", Run: func() float64 {
		start := time.Now()
		serveUntil(all, filepath.Join(root, "full", time.Now().Format("150405.000000")), 1)
		return time.Since(start).Seconds()
	}}
	xs, ps := testenv.Interleave(b, 1, increment, full)
	lo, hi := 0.0, 0.0
	for i := range xs {
		r := ps[0][i] / xs[i]
		if i == 0 || r < lo {
			lo = r
		}
		if r > hi {
			hi = r
		}
	}
	b.ReportMetric(lo, "x-full-min")
	b.ReportMetric(hi, "x-full-max")
}
