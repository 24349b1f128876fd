package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"xling/domain"
	"xling/schemas"
)

func metric(setting domain.Setting, q, c, id, name string, v float64) schemas.Metric {
	return schemas.Metric{Dataset: "d", Model: "m", Setting: setting, QueryLang: q, CandLang: c, QueryID: id, Name: name, Value: v, Queries: 1}
}

func TestWriteEscapesStringsFromTheData(t *testing.T) {
	evil := `<script>alert("x")</script>`
	rows := []schemas.Metric{
		metric(domain.Mono, evil, evil, "", "map", 0.5),
		metric(domain.MonoMean, "*", "*", "", "map", 0.5),
	}
	var b bytes.Buffer
	err := Write(&b, Input{Sets: []Set{{Model: `<img src=x onerror=alert(1)>`, Dataset: evil, Run: evil, Runs: [][]schemas.Metric{rows}}}},
		Options{Title: evil, LowResource: []string{evil}, HeldOut: []string{evil}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, raw := range []string{"<script", "<img"} {
		if strings.Contains(out, raw) {
			t.Errorf("output contains raw %q", raw)
		}
	}
	for _, esc := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(out, esc) {
			t.Errorf("output lacks the escaped text %q", esc)
		}
	}
}

// A model name with a right-to-left override cannot reorder the text around it: wherever it is shown as
// text it sits between U+2068 (first strong isolate) and U+2069 (pop isolate); elsewhere only in attributes.
func TestWriteIsolatesBidiInModelNames(t *testing.T) {
	spoof := "model\u202Eevil"
	rows := []schemas.Metric{
		metric(domain.Mono, "en", "en", "", "map", 0.5),
		metric(domain.MonoMean, "*", "*", "", "map", 0.5),
	}
	var b bytes.Buffer
	if err := Write(&b, Input{Sets: []Set{{Model: spoof, Dataset: "xquad-r", Run: "r", Runs: [][]schemas.Metric{rows}}}}, Options{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	isolated, attrs := strings.Count(out, "\u2068"+spoof+"\u2069"), strings.Count(out, `="`+spoof+`"`)
	if isolated < 4 || strings.Count(out, spoof) != isolated+attrs {
		t.Errorf("the name appears %d times: %d isolated, %d in attributes", strings.Count(out, spoof), isolated, attrs)
	}
}

func TestHeatmapHasOneCellPerSettingAndMarksMissingOnes(t *testing.T) {
	var rows []schemas.Metric
	for _, q := range []string{"a", "b", "c"} {
		for _, c := range []string{"a", "b", "c"} {
			switch {
			case q == c:
				rows = append(rows, metric(domain.Mono, q, c, "", "map", 0.4))
			case q == "c" && c == "a": // a setting the run did not score
			default:
				rows = append(rows, metric(domain.Cross, q, c, "", "map", 0.1))
			}
		}
	}
	rows = append(rows, metric(domain.Cross, "a", "b", "", "map", math.NaN())) // a second run's broken value is dropped
	h := newHeatmap(newSummary(Set{Runs: [][]schemas.Metric{rows}}))
	if len(h.Cells) != 9 {
		t.Fatalf("%d cells, want 9", len(h.Cells))
	}
	missing := 0
	for _, c := range h.Cells {
		if c.Missing {
			missing++
			if c.Query != "c" || c.Cand != "a" {
				t.Errorf("cell %s→%s marked missing", c.Query, c.Cand)
			}
		}
		if (c.Query == c.Cand) != (c.Setting == domain.Mono) {
			t.Errorf("cell %s→%s has setting %s", c.Query, c.Cand, c.Setting)
		}
	}
	if missing != 1 {
		t.Errorf("%d missing cells, want 1", missing)
	}
	if !(math.Abs(h.Max-0.4) <= 1e-12) {
		t.Errorf("scale max %v, want 0.4", h.Max)
	}
}

// The interval worked by hand: language a has AP 0 and 1 (variance 0.5, n 2), language b has 1, 1, 1
// (variance 0): half-width = 1.96 * sqrt(0.5/2 + 0) / 2 languages = 0.48999.
func TestIntervalIsTheStratifiedNormalInterval(t *testing.T) {
	rows := []schemas.Metric{
		metric(domain.Mono, "a", "a", "q1", "map", 0), metric(domain.Mono, "a", "a", "q2", "map", 1),
		metric(domain.Mono, "b", "b", "q1", "map", 1), metric(domain.Mono, "b", "b", "q2", "map", 1), metric(domain.Mono, "b", "b", "q3", "map", 1),
	}
	half, ok := newSummary(Set{Runs: [][]schemas.Metric{rows}}).interval(domain.MonoMean, domain.Mono)
	if want := 1.959963984540054 * 0.5 / 2; !ok || !(math.Abs(half-want) <= 1e-12) {
		t.Errorf("half-width %v (ok %v), want %v", half, ok, want)
	}
	// Over seeds the whisker is the sample standard deviation: of 0.2 and 0.4 it is sqrt(0.02).
	seeds := Set{Runs: [][]schemas.Metric{{metric(domain.MonoMean, "*", "*", "", "map", 0.2)}, {metric(domain.MonoMean, "*", "*", "", "map", 0.4)}}}
	half, ok = newSummary(seeds).interval(domain.MonoMean, domain.Mono)
	if !ok || !(math.Abs(half-math.Sqrt(0.02)) <= 1e-12) {
		t.Errorf("over seeds: %v (ok %v), want %v", half, ok, math.Sqrt(0.02))
	}
}

// The test worked by hand: differences 1, 2, 3 (a query only one model has is left out); of the 8 sign
// assignments only +++ and --- reach |sum| 6, so p = 2/8.
func TestPairedTestsPairQueriesByLanguageAndID(t *testing.T) {
	set := func(model string, vals map[string]float64) Set {
		var rows []schemas.Metric
		for id, v := range vals {
			rows = append(rows, metric(domain.Multi, id[:1], "*", id, "map", v))
		}
		return Set{Model: model, Dataset: "d", Runs: [][]schemas.Metric{rows}}
	}
	a := set("a", map[string]float64{"x1": 1, "x2": 2, "y1": 3, "y9": 7})
	b := set("b", map[string]float64{"x1": 0, "x2": 0, "y1": 0, "z1": 5})
	tests, err := pairedTests([]*summary{newSummary(a), newSummary(b)}, Options{Rounds: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 1 {
		t.Fatalf("%d tests, want 1 (Mul. only): %+v", len(tests), tests)
	}
	got := tests[0]
	if got.Measure != "Mul." || got.Queries != 3 || !(math.Abs(got.P-0.25) <= 1e-12) || !(math.Abs(got.MeanA-2) <= 1e-12) || got.MeanB != 0 {
		t.Errorf("test %+v, want Mul. over 3 queries, means 2 and 0, p 0.25", got)
	}
}

func TestWriteRefusesNothing(t *testing.T) {
	if err := Write(&bytes.Buffer{}, Input{}, Options{}); err == nil {
		t.Error("an empty report was written")
	}
}
