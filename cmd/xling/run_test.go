package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xling/sinks"
)

// `xling run --run-id` on a directory that holds a run refuses before it starts anything (no broker, no
// model training), naming the directory and what to do.
func TestRunRefusesARunDirectoryThatHoldsARun(t *testing.T) {
	tests := []struct {
		name     string
		finished bool
		want     string
	}{
		{"half-written: tables, no manifest", false, "holds a half-written run"},
		{"finished: a complete manifest", true, "already holds the finished run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			dir := filepath.Join(out, "r1")
			writeMetrics(t, dir, "bm25")
			if tc.finished {
				m := sinks.NewManifest("r1", nil, nil, time.Unix(1, 0))
				m.State = sinks.Complete
				if err := sinks.WriteManifest(filepath.Join(dir, "manifest.json"), m); err != nil {
					t.Fatal(err)
				}
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			err := cmdRun(context.Background(), []string{"--out", out, "--run-id", "r1", "--model", "bm25", "--data", filepath.Join(out, "none")}, log)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "--run-id") {
				t.Fatalf("err = %v, want one saying %q, naming %s and --run-id", err, tc.want, dir)
			}
		})
	}
}
