package serve

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xling/dataset"
	"xling/evaluate"
)

// A bad config is refused by New before it touches the state directory or the broker, with an error
// naming the field.
func TestNewRefusesABadConfigNamingTheField(t *testing.T) {
	valid := func() Config {
		return Config{DataDir: "data", ModelsDir: "models", StateDir: "/nonexistent/state", Eval: evaluate.Config{TopK: 3}}
	}
	tests := []struct {
		name  string
		spoil func(*Config)
		want  string
	}{
		{"no data directory", func(c *Config) { c.DataDir = "" }, "DataDir is empty"},
		{"no models directory", func(c *Config) { c.ModelsDir = "" }, "ModelsDir is empty"},
		{"no state directory", func(c *Config) { c.StateDir = "" }, "StateDir is empty"},
		{"a negative poll", func(c *Config) { c.Poll = -time.Second }, "Poll is -1s"},
		{"a negative grace", func(c *Config) { c.Grace = -time.Second }, "Grace is -1s"},
		{"an empty dataset name", func(c *Config) { c.Datasets = []string{""} }, "Datasets[0] is empty"},
		{"a bad evaluation setting", func(c *Config) { c.Eval.TopK = -1 }, "Eval: evaluate config: TopK is -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.spoil(&c)
			_, err := New(context.Background(), c, slog.New(slog.DiscardHandler))
			if err == nil || !strings.HasPrefix(err.Error(), "serve config: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want a serve config error containing %q", err, tc.want)
			}
		})
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("the valid config: %v", err)
	}
}

// Zero fields are valid and take their defaults: Poll 2s, Grace 30s, and the known datasets DataDir holds.
func TestZeroFieldsTakeTheirDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, dataset.MLQAR), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Config{DataDir: dir, ModelsDir: "m", StateDir: "s"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := c.withDefaults()
	if got.Poll != 2*time.Second || got.Grace != 30*time.Second || !slices.Equal(got.Datasets, []string{dataset.MLQAR}) {
		t.Fatalf("defaults: poll %v, grace %v, datasets %v", got.Poll, got.Grace, got.Datasets)
	}
}
