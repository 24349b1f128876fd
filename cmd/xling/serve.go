package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"xling/evaluate"
	"xling/ops"
	"xling/pipeline"
	"xling/serve"
)

func cmdServe(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := fs.String("data", envOr("XLING_DATA", "../shared/data"), "dataset directory to watch (env XLING_DATA)")
	models := fs.String("models", "models", "models directory to watch: ONNX files written by xling and model directories (docs/models.md)")
	state := fs.String("state", "out/serve", "state directory: ledger, scorer snapshots, versioned tables (runs/) and the current view (current/)")
	datasets := fs.String("datasets", "", "comma-separated datasets to watch (default: xquad-r, mlqa-r and xquad, those present)")
	broker := brokerFlags(fs, os.Getenv)
	prefix := fs.String("topic-prefix", "xling.serve.", "prefix of every topic name")
	partitions := fs.Int("partitions", 4, "partitions per topic when creating topics")
	poll := fs.Duration("poll", 2*time.Second, "how often the directories are scanned")
	grace := fs.Duration("grace", 30*time.Second, "how long the update in flight may finish after SIGTERM")
	topK := fs.Int("top-k", 10, "ranking entries kept per query and setting")
	maxText := fs.Int("max-text-bytes", 64<<10, "reject texts longer than this (dead-lettered)")
	lib := fs.String("ort", envOr("ONNXRUNTIME_LIB", ".cache/onnxruntime-1.30.0/libonnxruntime.so.1"), "ONNX Runtime shared library (env ONNXRUNTIME_LIB)")
	threads := fs.Int("threads", 0, "ONNX Runtime intra-op threads (0: its default)")
	httpAddr := fs.String("http", "127.0.0.1:9464", "operations endpoint (/healthz, /status, /metrics); empty: none")
	store := storeFlags(fs, os.Getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	bc, err := broker()
	if err != nil {
		return err
	}
	dsn, err := store()
	if err != nil {
		return err
	}
	if _, err := os.Stat(*lib); err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w (run `make ort`, or set ONNXRUNTIME_LIB)", *lib, err)
	}
	lat := ops.NewLatency()
	cfg := serve.Config{DataDir: *data, ModelsDir: *models, StateDir: *state, Datasets: split(*datasets), Broker: bc,
		Poll: *poll, Grace: *grace,
		Eval: evaluate.Config{Topics: pipeline.Topics{Prefix: *prefix, Partitions: *partitions}, TopK: *topK, MaxText: *maxText,
			ORTLibrary: *lib, Threads: *threads, StoreDSN: dsn, Observe: lat.Observe}}
	var ln net.Listener
	if *httpAddr != "" {
		if ln, err = net.Listen("tcp", *httpAddr); err != nil {
			return fmt.Errorf("--http: %w", err)
		}
		defer ln.Close()
	}
	svc, err := serve.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	if ln != nil {
		h, err := ops.Handler(svc.Report(lat))
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				log.Warn("operations endpoint stopped", "err", err)
			}
		}()
		log.Info("operations endpoint: /healthz, /status, /metrics", "addr", "http://"+ln.Addr().String())
	}
	log.Info("serving", "data", *data, "models", *models, "state", *state)
	return svc.Run(ctx)
}
