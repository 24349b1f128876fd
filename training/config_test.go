package training

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"xling/batching"
	"xling/train"
)

// A bad phase is refused before anything is read, published or trained, with an error naming the field,
// down to the nested sampling and training settings.
func TestRunRefusesABadConfigNamingTheField(t *testing.T) {
	valid := func() Config {
		return Config{DataDir: "/nonexistent", Sampling: batching.Config{Strategy: batching.StrategyCross(), BatchSize: 4, Buffer: 16},
			Train: train.DefaultConfig(), Out: "/nonexistent/m.onnx", RunID: "r1"}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("a valid phase: %v", err)
	}
	tests := []struct {
		name  string
		spoil func(*Config)
		want  string
	}{
		{"a negative width", func(c *Config) { c.Dim = -1 }, "Dim is -1"},
		{"no strategy", func(c *Config) { c.Sampling.Strategy = batching.Strategy{} }, "Sampling: sample config: Strategy is not set"},
		{"a buffer below the batch", func(c *Config) { c.Sampling.Buffer = 2 }, "Sampling: sample config: Buffer is 2"},
		{"a zero temperature", func(c *Config) { c.Train.Temperature = 0 }, "Train: train config: Temperature is 0"},
		// Out is where checkpoints go, so the interval must be one.
		{"checkpoints without an interval", func(c *Config) { c.Train.CheckpointEvery = 0 }, "Train: train config: CheckpointEvery is 0"},
		// With a reversed gradient, the languages not held out are the discriminator's classes.
		{"a discriminator without width", func(c *Config) { c.Train.Lambda, c.Train.DiscHidden = 0.1, 0 }, "Train: train config: DiscHidden is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.spoil(&c)
			_, err := Run(context.Background(), c, slog.New(slog.DiscardHandler))
			if err == nil || !strings.HasPrefix(err.Error(), "training config: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want a training config error containing %q", err, tc.want)
			}
		})
	}
}
