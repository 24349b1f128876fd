package experiment

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// A miniature experiment end to end: every phase, evaluation through the pipeline, the tests and the report.
func TestExecuteSmallExperiment(t *testing.T) {
	cfg := Default()
	cfg.DataDir, cfg.OutDir, cfg.ORTLibrary = testenv.DataDir(t), t.TempDir(), testenv.ORTLibrary(t)
	cfg.Seeds = []uint64{1}
	cfg.Strategies = []Strategy{{Name: "hybrid", Batching: "hybrid:0.5"}, {Name: "adversarial", Batching: "mono", Lambda: -1}}
	cfg.Alphas = []float64{0.5, 1}
	cfg.Bitext = []string{"flores200"}
	cfg.AlignSteps, cfg.QAEpochs, cfg.Dim, cfg.Rounds = 5, 1, 16, 200
	cfg.EvalLangs = []string{"en", "th"}
	res, err := Execute(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// hybrid, adversarial, and the sweep's alpha 1 (alpha 0.5 is the hybrid arm).
	if len(res.Runs) != 3 {
		t.Fatalf("%d runs, want 3", len(res.Runs))
	}
	for _, r := range res.Runs {
		if r.TrainSteps == 0 || len(r.Metrics) == 0 || len(r.perQuery) == 0 {
			t.Errorf("run %s: %d steps, %d metrics, %d per-query values", r.Strategy, r.TrainSteps, len(r.Metrics), len(r.perQuery))
		}
	}
	// hybrid vs untrained and vs adversarial, plus hybrid+adversarial vs adversarial (absent here), on 3 measures.
	if len(res.Tests) != 6 {
		t.Errorf("%d significance tests, want 6", len(res.Tests))
	}
	for _, s := range res.Tests {
		if s.Queries != 2*1190 || s.P <= 0 || s.P > 1 {
			t.Errorf("test %+v: want 2380 queries and p in (0, 1]", s)
		}
	}
	var b strings.Builder
	WriteMarkdown(&b, res, "test")
	for _, want := range []string{"### Table 1", "| hybrid |", "th (low) (held out)", "Degradation from English, Mul. F1@10", "| 1 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
