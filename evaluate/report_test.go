package evaluate

import (
	"strings"
	"testing"

	"xling/domain"
	"xling/schemas"
)

func TestWriteReportLabelsInSampleTables(t *testing.T) {
	var ms []schemas.Metric
	for _, d := range []string{"mlqa-r", "xquad-r"} {
		ms = append(ms, schemas.Metric{Dataset: d, Model: "m", Setting: domain.MonoMean, QueryLang: domain.Pool, CandLang: domain.Pool, Name: "map", Value: 0.5})
	}
	tests := []struct {
		name      string
		trainedOn []string
		inSample  map[string]bool
	}{
		{"trained on one of them", []string{"mlqa-r"}, map[string]bool{"mlqa-r": true}},
		{"trained on neither", []string{"squad"}, map[string]bool{}},
		{"no record", nil, map[string]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteReport(&b, &Result{Metrics: ms, TrainedOn: tt.trainedOn}); err != nil {
				t.Fatal(err)
			}
			headers := 0
			for _, line := range strings.Split(b.String(), "\n") {
				d, _, ok := strings.Cut(strings.TrimSpace(line), "  model m")
				if !ok {
					continue
				}
				headers++
				if got := strings.Contains(line, "IN-SAMPLE"); got != tt.inSample[d] {
					t.Errorf("header %q: in-sample label %v, want %v", line, got, tt.inSample[d])
				}
			}
			if headers != 2 {
				t.Errorf("%d dataset headers, want 2:\n%s", headers, b.String())
			}
		})
	}
}
