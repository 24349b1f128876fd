package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"xling/dataset"
	"xling/evaluate"
	"xling/internal/testenv"
	"xling/internal/testrun"
	"xling/ops"
	"xling/ops/opstest"
)

// scrapeCounts is /metrics as each family's values by stage label (counters and gauges; a histogram's
// sample count).
func scrapeCounts(t *testing.T, url string) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for name, f := range opstest.Scrape(t, url) {
		out[name] = map[string]float64{}
		for _, m := range f.GetMetric() {
			stage := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" {
					stage = l.GetValue()
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name][stage] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name][stage] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name][stage] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// --http serves a real run's endpoint for as long as the job runs: before it, every stage runs; after it,
// /metrics holds exactly the job's counts, and each stage that reads messages has timed them.
func TestHTTPServesTheJobsCountsWhileItRuns(t *testing.T) {
	cfg := evaluate.Config{
		DataDir: testenv.DataDir(t), OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR},
		Langs: map[string][]string{dataset.XQuADR: {"de", "en"}}, Model: testrun.Model(t, "small", 7), ModelName: "small",
		RunID: "ops", TopK: 3, MaxText: 64 << 10, ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	ep, err := listenOps("127.0.0.1:0", &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.close()
	url := "http://" + ep.ln.Addr().String()
	job, err := evaluate.Open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()

	var before, after map[string]map[string]float64
	var health string
	err = ep.serve(ctx, job, cfg, log, func(ctx context.Context) error {
		before = scrapeCounts(t, url)
		if _, err := job.Evaluate(ctx); err != nil {
			return err
		}
		after = scrapeCounts(t, url)
		_, health = opstest.Get(t, url+"/healthz")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the endpoint still answers after the job ended")
	}

	stages := evaluate.StageNames()
	if got := before["xling_stages_running"][""]; got != float64(len(stages)) {
		t.Errorf("before the run, %g stages running, want %d", got, len(stages))
	}
	if got := after["xling_stages_running"][""]; got != 0 {
		t.Errorf("after the run, %g stages running, want 0", got)
	}
	if health != "ok\n" {
		t.Errorf("/healthz during the job = %q, want ok", health)
	}
	counts := job.Counts()
	if len(counts) != len(stages) {
		t.Fatalf("job has %d stages, want %d", len(counts), len(stages))
	}
	for _, c := range counts {
		for name, want := range map[string]int64{
			"xling_stage_records_in_total": c.In, "xling_stage_records_out_total": c.Out, "xling_stage_records_dead_total": c.Dead,
			"xling_stage_messages_dead_total": c.DeadMessages, "xling_stage_records_emitted_total": c.Emitted,
			"xling_stage_records_truncated_total": c.Truncated,
		} {
			if got, ok := after[name][c.Stage]; !ok || got != float64(want) {
				t.Errorf("%s{stage=%q} = %g (present %v), job counted %d", name, c.Stage, got, ok, want)
			}
		}
		if c.Emitted == 0 {
			t.Errorf("%s emitted nothing: the run is too small to check", c.Stage)
		}
		// Ingest reads files, not messages; every other stage timed each message it handled.
		n, ok := after["xling_stage_message_duration_seconds"][c.Stage]
		if c.Stage == evaluate.Ingest && ok || c.Stage != evaluate.Ingest && !(n >= 1) {
			t.Errorf("%s: %g messages timed (present %v)", c.Stage, n, ok)
		}
	}

	// How the job ended: finished with no stage running, or failed with the reason, which /healthz gives.
	o := newJobOps(job, cfg)
	o.end(nil)
	if st := o.status(); st.State != ops.Finished || st.Error != "" || runningStages(st) != 0 || o.health(ctx) != nil {
		t.Errorf("a finished job: %+v, health %v", st, o.health(ctx))
	}
	o.end(errors.New("encode: boom"))
	if st := o.status(); st.State != ops.Failed || st.Error != "encode: boom" || runningStages(st) != 0 {
		t.Errorf("a failed job: %+v", st)
	}
	if err := o.health(ctx); err == nil || !strings.Contains(err.Error(), "run failed: encode: boom") {
		t.Errorf("a failed job's health = %v", err)
	}
	// A job whose broker is gone is unhealthy.
	job.Close()
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if err := newJobOps(job, cfg).health(hctx); err == nil || !strings.Contains(err.Error(), "broker 127.0.0.1:") {
		t.Errorf("a job whose broker is closed: health %v, want an error naming the broker", err)
	}
}

func runningStages(st ops.Status) int {
	n := 0
	for _, s := range st.Stages {
		if s.Running {
			n++
		}
	}
	return n
}

// A taken address fails before the job opens, naming the flag.
func TestHTTPOnATakenAddressFails(t *testing.T) {
	var cfg evaluate.Config
	ep, err := listenOps("127.0.0.1:0", &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.close()
	if cfg.Observe == nil {
		t.Error("--http does not time messages")
	}
	if _, err := listenOps(ep.ln.Addr().String(), &evaluate.Config{}); err == nil || !strings.Contains(err.Error(), "--http") {
		t.Errorf("second listen on %s: %v", ep.ln.Addr(), err)
	}
}
