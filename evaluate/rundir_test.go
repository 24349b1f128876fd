package evaluate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xling/sinks"
)

// A run id names one attempt: a directory holding a killed run's tables, or a finished run, is refused
// with what to do about it; a missing or empty one is taken.
func TestCheckNewRunRefusesADirectoryThatHoldsARun(t *testing.T) {
	manifest := func(state string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			m := sinks.NewManifest("r1", nil, nil, time.Unix(1, 0))
			m.State = state
			if err := sinks.WriteManifest(filepath.Join(dir, ManifestName), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	file := func(name, body string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		fill  []func(t *testing.T, dir string)
		want  []string // in the error; none: accepted
		noDir bool
	}{
		{name: "a missing directory is taken", noDir: true},
		{name: "an empty directory is taken"},
		{name: "tables without a manifest are a half-written run", fill: []func(*testing.T, string){file("embeddings.parquet", "x")},
			want: []string{"holds a half-written run", "embeddings.parquet", "no complete manifest.json", "delete the directory, or run with a new --run-id"}},
		{name: "a killed writer's temporary file alone is a half-written run", fill: []func(*testing.T, string){file(".metrics.parquet.tmp-123", "x")},
			want: []string{"holds a half-written run", ".metrics.parquet.tmp-123"}},
		{name: "a manifest that does not parse is no completion", fill: []func(*testing.T, string){file(ManifestName, "{")},
			want: []string{"holds a half-written run"}},
		{name: "a manifest in another state is no completion", fill: []func(*testing.T, string){manifest("running")},
			want: []string{"holds a half-written run"}},
		{name: "a complete manifest is a finished run", fill: []func(*testing.T, string){file("metrics.parquet", "x"), manifest(sinks.Complete)},
			want: []string{`already holds the finished run "r1"`, "run with a new --run-id, or delete the directory"}},
		{name: "an older xling's manifest, without a state, is a finished run", fill: []func(*testing.T, string){manifest("")},
			want: []string{"already holds the finished run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if !tc.noDir {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.fill {
				f(t, dir)
			}
			err := CheckNewRun(dir)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("taken, want it refused")
			}
			for _, w := range append(tc.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
