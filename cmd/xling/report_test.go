package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xling/sinks"
)

// writeMetrics makes a run directory whose metrics table has one model's monolingual mAP in two languages.
func writeMetrics(t *testing.T, dir, model string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := sinks.Create[sinks.MetricRow](filepath.Join(dir, "metrics.parquet"), sinks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"de", "en"} {
		if err := w.Write(sinks.MetricRow{RunID: model, Model: model, Dataset: "xquad-r", Setting: "mono", QueryLang: l, CandLang: l, Metric: "map", Value: 0.5, Queries: 3, Time: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Run directories come first or among the flags, as users type them.
func TestReportCommandReadsRunDirectoriesAmongFlags(t *testing.T) {
	dir := t.TempDir()
	writeMetrics(t, filepath.Join(dir, "a"), "model-a")
	writeMetrics(t, filepath.Join(dir, "b"), "model-b")
	out := filepath.Join(dir, "r.html")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), []string{"report", filepath.Join(dir, "a"), "--out", out, filepath.Join(dir, "b"), "--title", "two"}, log); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>two</title>", `data-model="model-a"`, `data-model="model-b"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %s", want)
		}
	}
	if err := run(context.Background(), []string{"report", "--out", out}, log); err == nil {
		t.Error("a report of nothing succeeded")
	}
}
