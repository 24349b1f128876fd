package serve_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"xling/evaluate"
	"xling/ops"
	"xling/serve"
)

// A service that watches ../shared/data and ./models, keeps its state in out/serve and serves its
// operations endpoint, until SIGTERM: what `xling serve` does.
func ExampleService() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	lat := ops.NewLatency()
	svc, err := serve.New(ctx, serve.Config{
		DataDir: "../shared/data", ModelsDir: "models", StateDir: "out/serve",
		Eval: evaluate.Config{ORTLibrary: os.Getenv("ONNXRUNTIME_LIB"), TopK: 10, Observe: lat.Observe},
	}, log)
	if err != nil {
		log.Error("serve", "err", err)
		return
	}
	defer svc.Close()
	h, err := ops.Handler(svc.Report(lat))
	if err != nil {
		log.Error("serve", "err", err)
		return
	}
	srv := &http.Server{Addr: "127.0.0.1:9464", Handler: h}
	go srv.ListenAndServe()
	defer srv.Shutdown(context.Background())
	if err := svc.Run(ctx); err != nil { // returns nil on SIGTERM, once the update in flight is done or dropped
		log.Error("serve", "err", err)
	}
}
