package evaluate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xling/dataset"
	"xling/domain"
	"xling/internal/testenv"
	"xling/sinks"
)

// BM25 runs without a model file or ONNX Runtime, on languages with and without spaces between words. A
// query of XQuAD-R has one answer among about 1190 candidates, so a random ranking's mAP is about
// H(1190)/1190 ≈ 0.006; BM25 must do far better in every language.
func TestRunBM25WithoutAModel(t *testing.T) {
	data := testenv.DataDir(t)
	langs := []string{"en", "th", "zh"}
	cfg := Config{
		DataDir: data, OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: langs},
		Model: BM25, RunID: "bm25", TopK: 3, Progress: time.Hour, ORTLibrary: "/nonexistent",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if p := Reconcile(res.Counts); len(p) > 0 {
		t.Errorf("books do not balance: %v", p)
	}
	var stages []string
	for _, c := range res.Counts {
		stages = append(stages, c.Stage)
	}
	if want := StageNamesFor(BM25); !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	items, _ := countDataset(t, data, dataset.XQuADR, langs, 1<<20)
	for _, c := range res.Counts {
		if c.Stage == Score && c.In != int64(items) {
			t.Errorf("score read %d token records, want the %d items", c.In, items)
		}
	}

	settings := map[domain.Setting]int{}
	for _, m := range res.Metrics {
		if m.QueryID == "" && m.Name == "map" {
			settings[m.Setting]++
		}
		if m.Model != BM25 {
			t.Fatalf("metric %+v names model %q, want %s", m, m.Model, BM25)
		}
	}
	for setting, want := range map[domain.Setting]int{domain.Mono: 3, domain.Cross: 6, domain.Multi: 3, domain.MonoMean: 1} {
		if settings[setting] != want {
			t.Errorf("%d %s settings, want %d", settings[setting], setting, want)
		}
	}
	for _, l := range langs {
		v, ok := Lookup(res.Metrics, dataset.XQuADR, domain.Mono, l, l, "map")
		t.Logf("BM25 mono mAP %s: %.3f", l, v)
		if !ok || !(v > 0.3) {
			t.Errorf("BM25 mono mAP for %s = %v (present %v), want well above random (0.006)", l, v, ok)
		}
	}

	var files []string
	for _, o := range res.Outputs {
		files = append(files, filepath.Base(o.Path))
	}
	if want := []string{"metrics.parquet", "rankings.parquet"}; !slices.Equal(files, want) {
		t.Errorf("outputs %v, want %v (no embeddings)", files, want)
	}
	man, err := sinks.ReadManifest(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if man.ONNXRuntimeVersion != "" {
		t.Errorf("manifest records ONNX Runtime %q for BM25", man.ONNXRuntimeVersion)
	}
	for _, d := range man.Data {
		if !strings.HasPrefix(d.Path, data) {
			t.Errorf("manifest data %s is not a dataset file", d.Path)
		}
	}
	if len(man.Data) != len(langs) {
		t.Errorf("manifest has %d data files, want the %d dataset files", len(man.Data), len(langs))
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "embeddings.parquet")); err == nil {
		t.Error("a BM25 run wrote embeddings.parquet")
	}
}

func TestOpenRejectsEncodeForBM25(t *testing.T) {
	_, err := Open(context.Background(), Config{Model: BM25, RunID: "x"}, quiet(), Encode)
	if err == nil || !strings.Contains(err.Error(), `unknown stage "encode" for model bm25`) {
		t.Fatalf("got error %v, want encode refused for bm25", err)
	}
}
