package experiment

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xling/dataset"
	"xling/domain"
	"xling/encoder/hashbag"
	"xling/evaluate"
	"xling/internal/testenv"
	"xling/tokenizer/ngram"
)

func TestValidationSplitKeepsTranslationsTogether(t *testing.T) {
	items := []dataset.Item{
		{Lang: "en", Kind: dataset.Query, ID: "en/q/a", QID: "5d6f0e3b"}, {Lang: "de", Kind: dataset.Query, ID: "de/q/a", QID: "5d6f0e3b"},
		{Lang: "en", Kind: dataset.Query, ID: "en/q/b", QID: "a91c2e77"}, {Lang: "de", Kind: dataset.Query, ID: "de/q/b", QID: "a91c2e77"},
		{Lang: "en", Kind: dataset.Candidate, ID: "en/c/0", QIDs: []string{"5d6f0e3b"}},
		{Lang: "en", Kind: dataset.Candidate, ID: "en/c/1", QIDs: []string{"a91c2e77"}},
		{Lang: "en", Kind: dataset.Candidate, ID: "en/c/2"},
	}
	// Find a seed that puts question a in validation and b in training (ids as MLQA-R's, hex digests); the
	// split is a function of (id, seed).
	var seed uint64
	for ; seed < 1000; seed++ {
		if ValidationQuestion("5d6f0e3b", 0.5, seed) && !ValidationQuestion("a91c2e77", 0.5, seed) {
			break
		}
	}
	if seed == 1000 {
		t.Fatal("no seed splits a from b")
	}
	train, val := SplitItems(items, 0.5, seed)
	ids := func(xs []dataset.Item) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x.ID] = true
		}
		return m
	}
	tr, va := ids(train), ids(val)
	// Both translations of a in validation; b's in training; every candidate trains; validation's
	// candidates are a's answer and the sentence no question points to, never b's answer.
	for id, want := range map[string][2]bool{
		"en/q/a": {false, true}, "de/q/a": {false, true}, "en/q/b": {true, false}, "de/q/b": {true, false},
		"en/c/0": {true, true}, "en/c/1": {true, false}, "en/c/2": {true, true},
	} {
		if tr[id] != want[0] || va[id] != want[1] {
			t.Errorf("%s: in train %v, in val %v; want %v, %v", id, tr[id], va[id], want[0], want[1])
		}
	}
	// Share 0 keeps every question in training, share 1 none.
	for _, q := range []string{"a", "b", "c", "d"} {
		if ValidationQuestion(q, 0, 3) || !ValidationQuestion(q, 1, 3) {
			t.Errorf("question %s: shares 0 and 1 misplace it", q)
		}
	}
}

// Validate must agree with the pipeline's own scoring (evaluate.Run through ONNX Runtime) on the same
// model and data: Mo., Cr. and Mul. mAP on XQuAD-R in two languages.
func TestValidateMatchesPipeline(t *testing.T) {
	dataDir, lib := testenv.DataDir(t), testenv.ORTLibrary(t)
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1 << 14
	m := hashbag.NewRandom(cfg, 32, 32, 4)
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := WriteModel(path, m); err != nil {
		t.Fatal(err)
	}
	langs := []string{"de", "en"}
	// Every XQuAD-R language but de and en held out.
	items, err := ReadItems(dataDir, "xquad-r", []string{"ar", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Validate(context.Background(), m, items, items)
	if err != nil {
		t.Fatal(err)
	}
	er, err := evaluate.Run(context.Background(), evaluate.Config{DataDir: dataDir, OutDir: t.TempDir(), Datasets: []string{"xquad-r"},
		Langs: map[string][]string{"xquad-r": langs}, Model: path, RunID: "validate", TopK: 1, ORTLibrary: lib, Progress: time.Hour},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		setting domain.Setting
		got     float64
	}{{domain.MonoMean, got.Mo}, {domain.CrossMean, got.Cr}, {domain.MultiMean, got.Mul}} {
		want, ok := evaluate.Lookup(er.Metrics, "xquad-r", c.setting, domain.Pool, domain.Pool, "map")
		if !ok {
			t.Fatalf("pipeline has no %s map", c.setting)
		}
		// float32 sums in a different order may swap near-ties: agree to 1e-3 of the mean.
		if !(math.Abs(c.got-want) <= 1e-3*want) {
			t.Errorf("%s: Validate %.6f, pipeline %.6f", c.setting, c.got, want)
		}
	}
	_ = os.Remove(path)
}
