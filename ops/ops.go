// Package ops is a run's operations endpoint: an http.Handler serving /healthz, /status (JSON) and
// /metrics (Prometheus text format) from what a Report reads afresh on every request. Serving it (an
// http.Server, its address and its shutdown) is the caller's.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"xling/pipeline"
)

// State is how a run is going.
type State string

// A run's states.
const (
	Running  State = "running"
	Finished State = "finished"
	Failed   State = "failed"
)

// Status is a run as /status reports it.
type Status struct {
	RunID    string              `json:"run_id"`
	State    State               `json:"state"`
	Error    string              `json:"error,omitempty"` // why a failed run failed
	Started  time.Time           `json:"started"`
	Model    string              `json:"model,omitempty"`
	Datasets []string            `json:"datasets,omitempty"`
	Langs    map[string][]string `json:"langs,omitempty"` // by dataset; none: every language present
	Stages   []Stage             `json:"stages"`          // one per name: /metrics labels series by stage
	// Service is what a long-running service (xling serve) adds: what it watches and has done.
	Service any `json:"service,omitempty"`
}

// Stage is one stage of the run and its books.
type Stage struct {
	Name    string
	Running bool
	Counts  pipeline.Snapshot
}

// counts are pipeline.Snapshot under the names /status writes (a conversion: the fields must match).
type counts struct {
	In           int64 `json:"in"`
	Out          int64 `json:"out"`
	Dead         int64 `json:"dead"`
	DeadMessages int64 `json:"dead_messages"`
	Emitted      int64 `json:"emitted"`
	Truncated    int64 `json:"truncated"`
}

// MarshalJSON writes the stage flat: its name, whether it runs, and its counts.
func (s Stage) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string `json:"name"`
		Running bool   `json:"running"`
		counts
	}{s.Name, s.Running, counts(s.Counts)})
}

// Report is what the endpoint reports. Its functions are called on every request, concurrently.
type Report struct {
	// Status returns the run's state and its stages' books, read live. Required.
	Status func() Status
	// Health returns why the process is unhealthy, nil when it is healthy (a nil Health always is).
	Health func(ctx context.Context) error
	// HealthTimeout bounds a call of Health; 0 means 5s.
	HealthTimeout time.Duration
	// Latency, if set, is served on /metrics with the counts.
	Latency *Latency
	// Collectors are served on /metrics beside the stages' counts (a service's own series).
	Collectors []prometheus.Collector
}

// Latency is a histogram of how long each stage took to handle a message. Its Observe is what
// pipeline.Worker.Observe wants.
type Latency struct{ h *prometheus.HistogramVec }

// NewLatency returns an empty histogram with buckets from 100µs to 30s.
func NewLatency() *Latency {
	return &Latency{h: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "xling_stage_message_duration_seconds",
		Help:    "Time a stage took to handle one message of the run (decode and process).",
		Buckets: prometheus.ExponentialBucketsRange(1e-4, 30, 12),
	}, []string{"stage"})}
}

// Observe records that stage took d to handle a message.
func (l *Latency) Observe(stage string, d time.Duration) {
	l.h.WithLabelValues(stage).Observe(d.Seconds())
}

// Handler returns the endpoint: GET /healthz, /status and /metrics.
func Handler(r Report) (http.Handler, error) {
	if r.Status == nil {
		return nil, errors.New("ops: a report needs a Status")
	}
	if r.HealthTimeout <= 0 {
		r.HealthTimeout = 5 * time.Second
	}
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{newCollector(r.Status), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	if r.Latency != nil {
		cs = append(cs, r.Latency.h)
	}
	cs = append(cs, r.Collectors...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ops: register metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Health != nil {
			ctx, cancel := context.WithTimeout(req.Context(), r.HealthTimeout)
			defer cancel()
			if err := r.Health(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "unhealthy: %v\n", err)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		body, err := json.MarshalIndent(r.Status(), "", "  ")
		if err != nil {
			http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '\n'))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux, nil
}

// collector turns a Status into metrics at each scrape: the stages' own counters are the only books.
type collector struct {
	status          func() Status
	counters        []counter
	running         *prometheus.Desc
	info, startTime *prometheus.Desc
}

type counter struct {
	desc  *prometheus.Desc
	value func(pipeline.Snapshot) int64
}

func newCollector(status func() Status) *collector {
	stage := []string{"stage"}
	c := func(name, help string, value func(pipeline.Snapshot) int64) counter {
		return counter{prometheus.NewDesc(name, help, stage, nil), value}
	}
	return &collector{
		status: status,
		counters: []counter{
			c("xling_stage_records_in_total", "Records the stage read.", func(s pipeline.Snapshot) int64 { return s.In }),
			c("xling_stage_records_out_total", "Records the stage accepted.", func(s pipeline.Snapshot) int64 { return s.Out }),
			c("xling_stage_records_dead_total", "Records the stage rejected (dead-lettered).", func(s pipeline.Snapshot) int64 { return s.Dead }),
			c("xling_stage_messages_dead_total", "Messages rejected whole (undecodable).", func(s pipeline.Snapshot) int64 { return s.DeadMessages }),
			c("xling_stage_records_emitted_total", "Records the stage handed on, to topics or to a table.", func(s pipeline.Snapshot) int64 { return s.Emitted }),
			c("xling_stage_records_truncated_total", "Records cut to the model's maximum length.", func(s pipeline.Snapshot) int64 { return s.Truncated }),
		},
		running:   prometheus.NewDesc("xling_stages_running", "Stages of this process still running.", nil, nil),
		info:      prometheus.NewDesc("xling_run_info", "The run this process works for; always 1.", []string{"run_id", "model", "state"}, nil),
		startTime: prometheus.NewDesc("xling_run_start_time_seconds", "When this process started its part of the run, in Unix seconds.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, k := range c.counters {
		ch <- k.desc
	}
	ch <- c.running
	ch <- c.info
	ch <- c.startTime
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	running := 0
	for _, s := range st.Stages {
		for _, k := range c.counters {
			ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, float64(k.value(s.Counts)), s.Name)
		}
		if s.Running {
			running++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(running))
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, st.RunID, st.Model, string(st.State))
	if !st.Started.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.startTime, prometheus.GaugeValue, float64(st.Started.UnixNano())/1e9)
	}
}
