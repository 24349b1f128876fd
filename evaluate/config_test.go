package evaluate

import (
	"context"
	"strings"
	"testing"
	"time"

	"xling/pipeline"
)

// validConfig is a whole run's config with every field Validate checks set to something it accepts.
func validConfig() Config {
	return Config{
		DataDir: "data", OutDir: "out", Datasets: []string{"xquad-r", "mlqa-r"}, Langs: map[string][]string{"xquad-r": {"en", "de"}},
		Model: "model.onnx", Brokers: []string{"k1:9092"}, KafkaRetry: pipeline.Retry{GiveUp: time.Minute},
		Topics: pipeline.Topics{Prefix: "x.", Partitions: 4}, RunID: "r1", TopK: 10, MaxText: 1 << 16, Threads: 2, Provider: "cuda",
		Progress: time.Second,
	}
}

func TestValidateAcceptsAWholeRunAndZeroDefaults(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	// Zero means the default for these: a config that leaves them out is valid.
	c := validConfig()
	c.TopK, c.MaxText, c.Threads, c.Provider, c.Topics, c.Progress, c.KafkaRetry, c.Brokers = 0, 0, 0, "", pipeline.Topics{}, 0, pipeline.Retry{}, nil
	if err := c.Validate(); err != nil {
		t.Fatalf("a config of defaults: %v", err)
	}
}

// Each bad config is refused with an error that names the field, and says what would do.
func TestValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(*Config)
		want  string
	}{
		{"no run id", func(c *Config) { c.RunID = "" }, "RunID is empty"},
		{"no model", func(c *Config) { c.Model = "" }, "Model is empty"},
		{"no data directory", func(c *Config) { c.DataDir = "" }, "DataDir is empty"},
		{"no datasets", func(c *Config) { c.Datasets, c.Langs = nil, nil }, "Datasets is empty"},
		{"an empty dataset name", func(c *Config) { c.Datasets = []string{"xquad-r", ""} }, "Datasets[1] is empty"},
		{"a dataset twice", func(c *Config) { c.Datasets = []string{"xquad-r", "mlqa-r", "xquad-r"} }, `Datasets lists "xquad-r" twice`},
		{"languages of a dataset not run", func(c *Config) { c.Langs = map[string][]string{"xquad": {"en"}} }, `Langs names dataset "xquad"`},
		{"no output directory", func(c *Config) { c.OutDir = "" }, "OutDir is empty"},
		{"a negative top k", func(c *Config) { c.TopK = -1 }, "TopK is -1"},
		{"a negative text limit", func(c *Config) { c.MaxText = -5 }, "MaxText is -5"},
		{"negative threads", func(c *Config) { c.Threads = -2 }, "Threads is -2"},
		{"an unknown provider", func(c *Config) { c.Provider = "rocm" }, `Provider is "rocm"`},
		{"negative partitions", func(c *Config) { c.Topics.Partitions = -1 }, "Topics.Partitions is -1"},
		{"a negative progress interval", func(c *Config) { c.Progress = -time.Second }, "Progress is -1s"},
		{"a negative retry bound", func(c *Config) { c.KafkaRetry.GiveUp = -time.Second }, "KafkaRetry.GiveUp is -1s"},
		{"an empty broker address", func(c *Config) { c.Brokers = []string{"k1:9092", ""} }, "Brokers[1] is empty"},
		{"negative score shards", func(c *Config) { c.ScoreShards = -2 }, "ScoreShards is -2"},
		{"score shards of BM25", func(c *Config) { c.Model, c.ScoreShards = BM25, 2 }, "BM25 scores tokens in one scorer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.spoil(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "evaluate config: ") {
				t.Fatalf("Validate() = %v, want an evaluate config error containing %q", err, tc.want)
			}
		})
	}
}

// A worker of some stages is checked on the fields those stages use: an encode worker has no data
// directory, and needs none; a store worker needs a DSN.
func TestOpenChecksTheFieldsOfItsStages(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*Config)
		stages []string
		want   string // "" : the config passes (Open goes on, and fails later on this test's fake model)
	}{
		{"encode without data or output directories", func(c *Config) { c.DataDir, c.OutDir, c.Datasets, c.Langs = "", "", nil, nil }, []string{Encode}, ""},
		{"ingest without a data directory", func(c *Config) { c.DataDir = "" }, []string{Ingest}, "DataDir is empty"},
		{"a sink without an output directory", func(c *Config) { c.OutDir = "" }, []string{SinkMetrics}, "OutDir is empty"},
		{"store without a DSN", func(c *Config) {}, []string{Store}, "StoreDSN is empty"},
		{"encode for bm25", func(c *Config) { c.Model = BM25 }, []string{Encode}, `unknown stage "encode" for model bm25`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.Model = "/nonexistent/model.onnx"
			tc.cfg(&c)
			_, err := Open(context.Background(), c, quiet(), tc.stages...)
			if err == nil {
				t.Fatal("Open of a model that does not exist succeeded")
			}
			isConfig := strings.HasPrefix(err.Error(), "evaluate config: ")
			switch {
			case tc.want == "" && isConfig:
				t.Fatalf("Open refused a config its stages can use: %v", err)
			case tc.want != "" && (!isConfig || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Open = %v, want an evaluate config error containing %q", err, tc.want)
			}
		})
	}
}
