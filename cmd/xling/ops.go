package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"xling/evaluate"
	"xling/ops"
)

// opsEndpoint is --http: a job's operations endpoint (package ops), served while the job runs.
type opsEndpoint struct {
	ln  net.Listener // nil: no endpoint
	lat *ops.Latency
}

// listenOps listens on addr (no endpoint when addr is empty), before the job opens, so a bad address fails
// first, and makes cfg time each message for the endpoint's latency histogram.
func listenOps(addr string, cfg *evaluate.Config) (*opsEndpoint, error) {
	if addr == "" {
		return &opsEndpoint{}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	e := &opsEndpoint{ln: ln, lat: ops.NewLatency()}
	cfg.Observe = e.lat.Observe
	return e, nil
}

// close releases the address if serve never ran.
func (e *opsEndpoint) close() {
	if e.ln != nil {
		e.ln.Close() // after serve, already closed: the error says so
	}
}

// serve calls run, serving job's endpoint until it returns.
func (e *opsEndpoint) serve(ctx context.Context, job *evaluate.Job, cfg evaluate.Config, log *slog.Logger, run func(context.Context) error) error {
	if e.ln == nil {
		return run(ctx)
	}
	o := newJobOps(job, cfg)
	h, err := ops.Handler(ops.Report{Status: o.status, Health: o.health, Latency: e.lat})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(e.ln) }()
	log.Info("operations endpoint: /healthz, /status, /metrics", "addr", "http://"+e.ln.Addr().String())

	err = run(ctx)
	o.end(err)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("operations endpoint: shutdown", "err", serr)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("operations endpoint stopped", "err", serr)
	}
	return err
}

// jobOps is what a job's endpoint reports: its stages' books read live, how the job is going, and
// whether its broker answers.
type jobOps struct {
	job     *evaluate.Job
	cfg     evaluate.Config
	started time.Time
	mu      sync.Mutex
	state   ops.State
	err     error
}

func newJobOps(job *evaluate.Job, cfg evaluate.Config) *jobOps {
	return &jobOps{job: job, cfg: cfg, started: time.Now(), state: ops.Running}
}

// end records how the job ended.
func (o *jobOps) end(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state, o.err = ops.Finished, err
	if err != nil {
		o.state = ops.Failed
	}
}

func (o *jobOps) status() ops.Status {
	o.mu.Lock()
	state, err := o.state, o.err
	o.mu.Unlock()
	st := ops.Status{RunID: o.cfg.RunID, State: state, Started: o.started, Model: o.cfg.ModelName,
		Datasets: o.cfg.Datasets, Langs: o.cfg.Langs}
	if st.Model == "" {
		st.Model = o.cfg.Model
	}
	if err != nil {
		st.Error = err.Error()
	}
	for _, c := range o.job.Counts() {
		st.Stages = append(st.Stages, ops.Stage{Name: c.Stage, Running: state == ops.Running && !c.Finished, Counts: c.Snapshot})
	}
	return st
}

// health fails once the job has failed, and while its broker does not answer.
func (o *jobOps) health(ctx context.Context) error {
	o.mu.Lock()
	err := o.err
	o.mu.Unlock()
	if err != nil {
		return fmt.Errorf("run failed: %w", err)
	}
	return o.job.Ping(ctx)
}
