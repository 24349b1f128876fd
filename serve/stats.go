package serve

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"xling/evaluate"
	"xling/ops"
)

// stats are the service's own series on /metrics.
type stats struct {
	updates  *prometheus.CounterVec
	settings *prometheus.CounterVec
	failures prometheus.Counter
}

func newStats() *stats {
	return &stats{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xling_serve_updates_total",
			Help: "Updates finished, by kind: incremental (new languages) or full."}, []string{"kind"}),
		settings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xling_serve_settings_computed_total",
			Help: "Settings scored by updates: language pairs (mono, cross) and pools (multi)."}, []string{"setting"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "xling_serve_failures_total",
			Help: "Inputs the service could not use (bad files, models, failed updates)."}),
	}
}

func (st *stats) record(u Update) {
	kind := "incremental"
	if u.Full {
		kind = "full"
	}
	st.updates.WithLabelValues(kind).Inc()
	st.settings.WithLabelValues("pair").Add(float64(u.Settings))
	st.settings.WithLabelValues("pool").Add(float64(u.Pools))
}

// lag reports each stage's consumer lag at every scrape: what its group has yet to commit past.
type lag struct {
	s    *Service
	desc *prometheus.Desc
}

func (l lag) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l lag) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t := l.s.topics
	for stage, topic := range map[string]string{
		evaluate.Tokenize: t.Items().Name, evaluate.Encode: t.Tokens().Name, evaluate.Score: t.Embeddings().Name,
		evaluate.SinkEmbeddings: t.Embeddings().Name, evaluate.SinkRankings: t.Rankings().Name, evaluate.SinkMetrics: t.Metrics().Name,
	} {
		n, err := l.s.broker.Lag(ctx, t.Prefix+stage, topic)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(l.desc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, float64(n), stage, topic)
	}
}

// Report is the service's operations report for ops.Handler: /status carries the service's Status beside
// the stages of the update in flight, /metrics its counters and every stage's consumer lag, /healthz
// whether the broker answers.
func (s *Service) Report(latency *ops.Latency) ops.Report {
	return ops.Report{
		Status: func() ops.Status {
			st := s.Status()
			out := ops.Status{State: ops.Running, Service: st}
			if p := st.InProgress; p != nil {
				out.RunID, out.Model, out.Started, out.Datasets = p.RunID, p.Model, p.Started, []string{p.Dataset}
			}
			for _, c := range st.Stages {
				out.Stages = append(out.Stages, ops.Stage{Name: c.Stage, Running: !c.Finished, Counts: c.Snapshot})
			}
			return out
		},
		Health:  s.Ping,
		Latency: latency,
		Collectors: []prometheus.Collector{s.stats.updates, s.stats.settings, s.stats.failures,
			lag{s, prometheus.NewDesc("xling_consumer_lag_records", "Records of its input topic a stage's consumer group has not committed past.", []string{"stage", "topic"}, nil)}},
	}
}
