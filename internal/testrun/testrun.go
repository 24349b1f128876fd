// Package testrun produces real evaluation runs for the tests of what reads a run's outputs (the HTML
// report, DuckDB over the Parquet tables): a random hashbag model evaluated through the embedded broker.
package testrun

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xling/encoder/hashbag"
	"xling/evaluate"
	"xling/internal/testenv"
	"xling/tokenizer/ngram"
)

// Spec is one run: a random model of the given seed, named model, on dataset's langs.
type Spec struct {
	Model   string
	Seed    uint64
	Dataset string
	Langs   []string
	TopK    int // ranking entries kept per query and setting; 0 means 10
}

// Model writes a small random hashbag model of the given seed, named name, and returns its path.
func Model(t testing.TB, name string, seed uint64) string {
	t.Helper()
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1 << 14
	path := filepath.Join(t.TempDir(), name+".onnx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := hashbag.NewRandom(cfg, 32, 32, seed).WriteONNX(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Run evaluates spec under out (the run directory is out/<model>) and returns the result.
func Run(t testing.TB, out string, spec Spec) *evaluate.Result {
	t.Helper()
	model := Model(t, spec.Model, spec.Seed)
	topK := spec.TopK
	if topK == 0 {
		topK = 10
	}
	ecfg := evaluate.Config{
		DataDir: testenv.DataDir(t), OutDir: out, Datasets: []string{spec.Dataset},
		Langs: map[string][]string{spec.Dataset: spec.Langs}, Model: model, ModelName: spec.Model,
		RunID: spec.Model, TopK: topK, MaxText: 64 << 10, ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := evaluate.Run(ctx, ecfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("evaluate %s: %v", spec.Model, err)
	}
	return res
}
