package train

import (
	"math"
	"strings"
	"testing"
)

// DefaultConfig is valid; each bad field is refused with an error that names it.
func TestValidateNamesTheBadField(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	tests := []struct {
		name  string
		spoil func(*Config)
		want  string
	}{
		{"negative steps", func(c *Config) { c.Steps = -1 }, "Steps is -1"},
		{"a NaN learning rate", func(c *Config) { c.LR = math.NaN() }, "LR is NaN"},
		{"negative weight decay", func(c *Config) { c.WeightDecay = -0.1 }, "WeightDecay is -0.1"},
		{"zero eps", func(c *Config) { c.Eps = 0 }, "Eps is 0"},
		{"beta1 of 1", func(c *Config) { c.Beta1 = 1 }, "Beta1 is 1"},
		{"negative beta2", func(c *Config) { c.Beta2 = -0.5 }, "Beta2 is -0.5"},
		{"zero temperature", func(c *Config) { c.Temperature = 0 }, "Temperature is 0"},
		{"a discriminator without width", func(c *Config) { c.Languages, c.DiscHidden = []string{"en", "de"}, 0 }, "DiscHidden is 0"},
		{"an infinite lambda", func(c *Config) { c.Lambda = math.Inf(1) }, "Lambda is +Inf"},
		{"an unknown schedule", func(c *Config) { c.LambdaSchedule = "linear" }, `LambdaSchedule is "linear"`},
		{"checkpoints without an interval", func(c *Config) { c.CheckpointPath, c.CheckpointEvery = "m.onnx", 0 }, "CheckpointEvery is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.spoil(&c)
			if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "train config: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want a train config error containing %q", err, tc.want)
			}
		})
	}
}
