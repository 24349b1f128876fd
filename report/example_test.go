package report_test

import (
	"fmt"
	"strings"

	"xling/domain"
	"xling/report"
	"xling/schemas"
)

// A report of one model on two languages: a 2 x 2 heatmap, monolingual on the diagonal.
func ExampleWrite() {
	row := func(setting domain.Setting, q, c string, v float64) schemas.Metric {
		return schemas.Metric{Dataset: "xquad-r", Model: "m", Setting: setting, QueryLang: q, CandLang: c, Name: "map", Value: v, Queries: 1190}
	}
	rows := []schemas.Metric{row("mono", "de", "de", 0.41), row("mono", "en", "en", 0.49), row("cross", "de", "en", 0.11), row("cross", "en", "de", 0.10)}
	var page strings.Builder
	err := report.Write(&page, report.Input{Sets: []report.Set{{Model: "m", Dataset: "xquad-r", Runs: [][]schemas.Metric{rows}}}}, report.Options{Title: "demo"})
	fmt.Println(err, strings.Count(page.String(), `<rect class="cell"`))
	// Output: <nil> 4
}
