package ingest

import (
	"strings"
	"testing"

	"xling/pipeline"
	"xling/pipeline/pipelinetest"
)

// A bad config is refused before any file is read or anything produced, with an error naming the field.
func TestRunRefusesABadConfigNamingTheField(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"a negative batch size", Config{DataDir: "data", Datasets: []string{"xquad-r"}, BatchSize: -1}, "BatchSize is -1"},
		{"an empty dataset name", Config{DataDir: "data", Datasets: []string{"xquad-r", ""}}, "Datasets[1] is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			src := pipeline.NewSource("ingest", w)
			_, err := Run(ctx, src, w.Topics, tc.cfg, quiet())
			if err == nil || !strings.HasPrefix(err.Error(), "ingest config: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an ingest config error containing %q", err, tc.want)
			}
			if n := len(m.Messages(w.Topics.Items().Name)); n != 0 {
				t.Errorf("%d messages produced", n)
			}
		})
	}
}
