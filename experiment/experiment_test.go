package experiment

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/encoder/hashbag"
	"xling/internal/testenv"
	"xling/schemas"
	"xling/train"
)

// A miniature experiment end to end: every phase, evaluation through the pipeline, the tests and the report.
func TestExecuteSmallExperiment(t *testing.T) {
	cfg := Default()
	cfg.DataDir, cfg.OutDir, cfg.ORTLibrary = testenv.DataDir(t), t.TempDir(), testenv.ORTLibrary(t)
	cfg.Seeds = []uint64{1, 2}
	cfg.Strategies = []Strategy{{Name: "hybrid", Batching: "hybrid:0.5"}, {Name: "adversarial", Batching: "mono", Lambda: -1, Balanced: true}}
	cfg.Alphas = []float64{0.5, 1}
	cfg.Bitext = []string{"flores200"}
	cfg.AlignSteps, cfg.QAEpochs, cfg.Dim, cfg.Rounds, cfg.BootRounds = 5, 1, 16, 200, 50
	cfg.AlignBatch, cfg.QABatch, cfg.Tokenizer.Buckets = 32, 32, 1<<14
	cfg.EvalLangs = []string{"en", "th"}
	res, err := Execute(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Per seed hybrid and adversarial, and on the first seed the sweep's alpha 1 (alpha 0.5 is the hybrid arm).
	if len(res.Runs) != 5 {
		t.Fatalf("%d runs, want 5", len(res.Runs))
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
		if s.Queries != 2*1190 || s.Questions != 1190 || !(s.P > 0 && s.P <= 1) || !(s.PQuestion > 0 && s.PQuestion <= 1) || !(s.PHolm >= s.PQuestion) {
			t.Errorf("test %+v: want 2380 queries of 1190 questions, p values in (0, 1], Holm >= per question", s)
		}
	}
	// Every checkpoint says it was trained on MLQA-R, so a report on MLQA-R can call itself in-sample.
	for _, r := range res.Runs {
		f, err := os.Open(r.Checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		m, err := hashbag.ReadONNX(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.TrainedOn, []string{"mlqa-r"}) {
			t.Errorf("run %s seed %d: trained on %v, want [mlqa-r]", r.Strategy, r.Seed, m.TrainedOn)
		}
	}
	// The balanced adversarial arm records its discriminator's held-out accuracy, 7 classes (MLQA-R's
	// languages); hybrid has none.
	for _, r := range res.Runs {
		if (r.Strategy == "adversarial") != (len(r.DiscCurve) > 0) {
			t.Errorf("run %s: %d discriminator points", r.Strategy, len(r.DiscCurve))
		}
	}
	// Every measure: the mean over languages for both arms and their difference; the four degradation
	// measures also per language (en excluded) and pooled.
	// Mo.: 1 row x (2 arms + 1 difference); the other four: 3 rows (mean, low-resource, th) x 3.
	if want := 1*3 + 4*3*3; len(res.Intervals) != want {
		t.Errorf("%d intervals, want %d", len(res.Intervals), want)
	}
	for _, iv := range res.Intervals {
		if !(iv.Lo <= iv.Hi) || iv.Rounds != 50 {
			t.Errorf("interval %+v: bounds out of order or rounds not 50", iv)
		}
	}
	var b strings.Builder
	WriteMarkdown(&b, res)
	for _, want := range []string{"### Table 1", "| hybrid |", "th (low) (held out)", "Degradation from English, Mul. F1@10", "| 1 |", "low-resource languages (th), per seed", "p (per question)", "#### Mul. F1@10", "degradation, th"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Only the evaluated languages get rows, and a run without a sweep gets no sweep table.
	if strings.Contains(b.String(), "| de |") {
		t.Error("report has a row for de, which was not evaluated")
	}
	res.Config.Alphas = nil
	b.Reset()
	WriteMarkdown(&b, res)
	if strings.Contains(b.String(), "Alpha sweep") || strings.Contains(b.String(), "alpha sweep") {
		t.Error("report without a sweep mentions one")
	}
}

// The per-seed degradation cell, worked by hand: seed 1's low-resource languages degrade by 0.1, 0.2, 0.3,
// 0.4 and 0.5 (mean 0.3), seed 2's all by 0.5; mean 0.4, sample std sqrt(0.02) = 0.141.
func TestLowResourcePerSeedByHand(t *testing.T) {
	res := &Results{Config: Config{Eval: "xquad-r"}}
	run := func(values map[string]float64) Run {
		var r Run
		for l, v := range values {
			r.Metrics = append(r.Metrics, schemas.Metric{Dataset: "xquad-r", Setting: domain.DegrMulti, QueryLang: l, CandLang: domain.Pool, Name: "map", Value: v})
		}
		// A high-resource language and another metric must not count.
		r.Metrics = append(r.Metrics,
			schemas.Metric{Dataset: "xquad-r", Setting: domain.DegrMulti, QueryLang: "de", CandLang: domain.Pool, Name: "map", Value: 9},
			schemas.Metric{Dataset: "xquad-r", Setting: domain.DegrMulti, QueryLang: "th", CandLang: domain.Pool, Name: "f1@10", Value: 9})
		return r
	}
	runs := []Run{
		run(map[string]float64{"el": 0.1, "hi": 0.2, "th": 0.3, "tr": 0.4, "vi": 0.5}),
		run(map[string]float64{"el": 0.5, "hi": 0.5, "th": 0.5, "tr": 0.5, "vi": 0.5}),
	}
	if got, want := res.lowResourcePerSeed(runs, domain.DegrMulti, "map"), "0.400 ± 0.141 [0.300, 0.500]"; got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
	if got := res.lowResourcePerSeed(runs, domain.DegrCross, "map"); got != "-" {
		t.Errorf("cell without values = %q, want -", got)
	}
}

// The discriminator table, worked by hand: two seeds at 0.2 and 0.4 after step 100 give mean 0.300 with
// range 0.200–0.400; chance is 1/4 for four training languages; arms without a curve get no column.
func TestDiscCurvesByHand(t *testing.T) {
	cfg := Config{Strategies: []Strategy{{Name: "hybrid"}, {Name: "adversarial"}}}
	res := &Results{Config: cfg, TrainLangs: []string{"ar", "de", "en", "es"}, Runs: []Run{
		{Strategy: "adversarial", Seed: 1, DiscCurve: []train.DiscPoint{{Step: 0, Accuracy: 0.25}, {Step: 100, Accuracy: 0.2}}},
		{Strategy: "adversarial", Seed: 2, DiscCurve: []train.DiscPoint{{Step: 0, Accuracy: 0.25}, {Step: 100, Accuracy: 0.4}}},
		{Strategy: "hybrid", Seed: 1},
	}}
	var b strings.Builder
	writeDiscCurves(&b, res)
	for _, want := range []string{"chance is 1/4 = 0.250", "| step | adversarial |\n", "| 0 | 0.250 (0.250–0.250) |", "| 100 | 0.300 (0.200–0.400) |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
