package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"xling/ops"
	"xling/ops/opstest"
	"xling/pipeline"
)

var started = time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)

// fake is a run of two stages, one finished, with every count distinct so a swapped field shows.
func fake() ops.Status {
	return ops.Status{
		RunID: "r7", State: ops.Running, Started: started, Model: "small",
		Datasets: []string{"xquad-r"}, Langs: map[string][]string{"xquad-r": {"de", "en"}},
		Stages: []ops.Stage{
			{Name: "tokenize", Running: false, Counts: pipeline.Snapshot{In: 101, Out: 97, Dead: 4, DeadMessages: 2, Emitted: 97, Truncated: 0}},
			{Name: "encode", Running: true, Counts: pipeline.Snapshot{In: 97, Out: 90, Dead: 7, DeadMessages: 1, Emitted: 88, Truncated: 5}},
		},
	}
}

func serve(t *testing.T, r ops.Report) *httptest.Server {
	t.Helper()
	h, err := ops.Handler(r)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestHealthzSaysOKOrWhyNot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		health func(context.Context) error
		code   int
		body   string
	}{
		{"no check is healthy", nil, 200, "ok\n"},
		{"a passing check is healthy", func(context.Context) error { return nil }, 200, "ok\n"},
		{"a failing check is 503 with its reason", func(context.Context) error { return errors.New("broker 10.0.0.1:9092: connection refused") },
			503, "unhealthy: broker 10.0.0.1:9092: connection refused\n"},
		{"a check that hangs is cut off", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			503, "unhealthy: context deadline exceeded\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, ops.Report{Status: fake, Health: tc.health, HealthTimeout: 50 * time.Millisecond})
			code, body := opstest.Get(t, srv.URL+"/healthz")
			if code != tc.code || body != tc.body {
				t.Errorf("GET /healthz = %d %q, want %d %q", code, body, tc.code, tc.body)
			}
		})
	}
}

func TestStatusIsTheRunAsJSON(t *testing.T) {
	srv := serve(t, ops.Report{Status: fake})
	code, body := opstest.Get(t, srv.URL+"/status")
	if code != 200 {
		t.Fatalf("GET /status = %d %s", code, body)
	}
	// Decoded into the wire format as documented, not into ops.Status.
	type stage struct {
		Name                                            string
		Running                                         bool
		In, Out, Dead, DeadMessages, Emitted, Truncated int64
	}
	var got struct {
		RunID    string              `json:"run_id"`
		State    string              `json:"state"`
		Started  time.Time           `json:"started"`
		Model    string              `json:"model"`
		Datasets []string            `json:"datasets"`
		Langs    map[string][]string `json:"langs"`
		Stages   []map[string]any    `json:"stages"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if got.RunID != "r7" || got.State != "running" || !got.Started.Equal(started) || got.Model != "small" ||
		strings.Join(got.Datasets, ",") != "xquad-r" || strings.Join(got.Langs["xquad-r"], ",") != "de,en" {
		t.Errorf("status = %+v", got)
	}
	want := []stage{{"tokenize", false, 101, 97, 4, 2, 97, 0}, {"encode", true, 97, 90, 7, 1, 88, 5}}
	if len(got.Stages) != len(want) {
		t.Fatalf("stages = %v, want %d", got.Stages, len(want))
	}
	for i, w := range want {
		g := got.Stages[i]
		if len(g) != 8 {
			t.Errorf("stage %d has keys %v, want name, running and the 6 counts", i, g)
		}
		num := func(k string) int64 { n, _ := g[k].(json.Number).Int64(); return n }
		s := stage{g["name"].(string), g["running"].(bool), num("in"), num("out"), num("dead"), num("dead_messages"), num("emitted"), num("truncated")}
		if s != w {
			t.Errorf("stage %d = %+v, want %+v", i, s, w)
		}
	}
}

// byStage is a counter family's values by their stage label; a series without exactly that label fails.
func byStage(t *testing.T, f *dto.MetricFamily) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "stage" {
			t.Errorf("%s: labels %v, want stage only", f.GetName(), m.GetLabel())
			continue
		}
		out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	return out
}

func TestMetricsAreTheLiveCountsInPrometheusFormat(t *testing.T) {
	lat := ops.NewLatency()
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Second} {
		lat.Observe("encode", d)
	}
	srv := serve(t, ops.Report{Status: fake, Latency: lat})
	fams := opstest.Scrape(t, srv.URL)
	for name, want := range map[string]map[string]float64{
		"xling_stage_records_in_total":        {"tokenize": 101, "encode": 97},
		"xling_stage_records_out_total":       {"tokenize": 97, "encode": 90},
		"xling_stage_records_dead_total":      {"tokenize": 4, "encode": 7},
		"xling_stage_messages_dead_total":     {"tokenize": 2, "encode": 1},
		"xling_stage_records_emitted_total":   {"tokenize": 97, "encode": 88},
		"xling_stage_records_truncated_total": {"tokenize": 0, "encode": 5},
	} {
		f := fams[name]
		if f == nil || f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("%s: %v, want a counter", name, f)
			continue
		}
		got := byStage(t, f)
		if len(got) != len(want) || got["tokenize"] != want["tokenize"] || got["encode"] != want["encode"] {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if f := fams["xling_stages_running"]; f.GetType() != dto.MetricType_GAUGE || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("xling_stages_running = %v, want a gauge of 1 (encode)", f)
	}
	info := fams["xling_run_info"].GetMetric()
	if len(info) != 1 || info[0].GetGauge().GetValue() != 1 {
		t.Fatalf("xling_run_info = %v", info)
	}
	labels := map[string]string{}
	for _, l := range info[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["run_id"] != "r7" || labels["model"] != "small" || labels["state"] != "running" || len(labels) != 3 {
		t.Errorf("xling_run_info labels = %v", labels)
	}
	if g := fams["xling_run_start_time_seconds"].GetMetric(); len(g) != 1 || g[0].GetGauge().GetValue() != float64(started.Unix()) {
		t.Errorf("xling_run_start_time_seconds = %v, want %d", g, started.Unix())
	}

	h := fams["xling_stage_message_duration_seconds"]
	if h.GetType() != dto.MetricType_HISTOGRAM || len(h.GetMetric()) != 1 {
		t.Fatalf("latency = %v, want one histogram", h)
	}
	hist := h.GetMetric()[0].GetHistogram()
	if l := h.GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetValue() != "encode" {
		t.Errorf("latency labels = %v, want stage=encode", l)
	}
	if hist.GetSampleCount() != 3 || !(math.Abs(hist.GetSampleSum()-5.003) <= 1e-9) {
		t.Errorf("latency count %d sum %g, want 3 and 5.003", hist.GetSampleCount(), hist.GetSampleSum())
	}
	// Cumulative buckets: the two short messages are under 10ms, all three under 30s.
	for _, b := range hist.GetBucket() {
		want := uint64(0)
		switch ub := b.GetUpperBound(); {
		case ub >= 5:
			want = 3
		case ub >= 0.002:
			want = 2
		case ub >= 0.001:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%g holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if fams["go_goroutines"] == nil {
		t.Error("no Go runtime metrics")
	}
}

func TestHandlerNeedsAStatus(t *testing.T) {
	if _, err := ops.Handler(ops.Report{}); err == nil {
		t.Error("a report without Status was accepted")
	}
}

func TestOnlyGETIsServed(t *testing.T) {
	srv := serve(t, ops.Report{Status: fake})
	resp, err := http.Post(srv.URL+"/status", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /status = %d, want 405", resp.StatusCode)
	}
}
