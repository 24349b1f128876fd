package evaluate_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"xling/dataset"
	"xling/dataset/datasettest"
	"xling/internal/testenv"
	"xling/internal/testrun"
	"xling/sinks"
)

// An evaluation's per-setting mAP and F1@10 equal what numpy computes from the run's embeddings table alone
// (evaluate/testdata/rescore.py: its own inner products, ranking and metrics). By default the run is a small
// random model on three XQuAD-R languages; XLING_RESCORE_RUN=out/RUN re-scores a run of yours instead (for
// example `make run`'s, with every language: about a minute of numpy).
func TestMetricsEqualAnIndependentRescoringOfTheEmbeddings(t *testing.T) {
	python := testenv.RequirePython(t, "numpy")
	dir := os.Getenv("XLING_RESCORE_RUN")
	if dir == "" {
		res := testrun.Run(t, t.TempDir(), testrun.Spec{Model: "small", Seed: 7, Dataset: dataset.XQuADR, Langs: []string{"de", "en", "th"}})
		dir = res.Dir
	}
	embs, err := parquet.ReadFile[sinks.EmbeddingRow](filepath.Join(dir, "embeddings.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := parquet.ReadFile[sinks.MetricRow](filepath.Join(dir, "metrics.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	// Relevance comes from the dataset files: the embeddings table carries ids, not judgements.
	type judged struct {
		qid  string
		qids []string
	}
	byID := map[string]judged{}
	var langs []string
	for _, e := range embs {
		if !strings.Contains(strings.Join(langs, ","), e.Lang) {
			langs = append(langs, e.Lang)
		}
	}
	for _, it := range datasettest.Items(t, testenv.DataDir(t), dataset.XQuADR, langs) {
		byID[it.ID] = judged{it.QID, it.QIDs}
	}
	work := t.TempDir()
	type item struct {
		Lang string   `json:"lang"`
		Kind string   `json:"kind"`
		ID   string   `json:"id"`
		QID  string   `json:"qid"`
		QIDs []string `json:"qids"`
	}
	var items []item
	var vecs bytes.Buffer
	for _, e := range embs {
		if e.Dataset != dataset.XQuADR {
			continue
		}
		j, ok := byID[e.ItemID]
		if !ok {
			t.Fatalf("embedding %s is of no item of the dataset files", e.ItemID)
		}
		items = append(items, item{e.Lang, e.Kind, e.ItemID, j.qid, j.qids})
		if err := binary.Write(&vecs, binary.LittleEndian, e.Vector); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(items)
	if err := os.WriteFile(filepath.Join(work, "items.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "vectors.f32"), vecs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, filepath.Join("testdata", "rescore.py"), work).Output()
	if err != nil {
		t.Fatalf("rescore.py: %v", err)
	}
	var want map[string]map[string]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	checked, worst := 0, 0.0
	for _, m := range metrics {
		if m.QueryID != "" || m.Dataset != dataset.XQuADR || (m.Metric != "map" && m.Metric != "f1@10") {
			continue
		}
		key := m.Setting + "|" + m.QueryLang + "|" + m.CandLang
		if m.Setting != "mono" && m.Setting != "cross" && m.Setting != "multi" {
			continue
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("%s: numpy has no such setting", key)
			continue
		}
		if int64(w["queries"]) != m.Queries {
			t.Errorf("%s: %d queries, numpy %v", key, m.Queries, w["queries"])
		}
		// Scores are float32 sums in xling and float64 in numpy: a near-tie can flip, moving one rank.
		d := math.Abs(m.Value - w[m.Metric])
		worst = max(worst, d)
		if !(d <= 1e-4) {
			t.Errorf("%s %s = %v, numpy %v", key, m.Metric, m.Value, w[m.Metric])
		}
		checked++
	}
	if n := 2 * len(want); checked != n {
		t.Errorf("checked %d values, want %d (mAP and F1@10 of %d settings)", checked, n, len(want))
	}
	t.Logf("%d setting values equal numpy's, largest difference %.2g", checked, worst)
}
