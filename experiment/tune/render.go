package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"xling/experiment"
)

// entry is one line of the tuning log.
type entry struct {
	Name     string                 `json:"name"`
	Recipe   experiment.Recipe      `json:"recipe"`
	Seed     uint64                 `json:"seed"`
	Strategy string                 `json:"strategy"`
	Lambda   float64                `json:"lambda"`
	Val      experiment.Validation  `json:"val"`
	XQuAD    *experiment.Validation `json:"xquad_r"`
	Wall     float64                `json:"train_wall_seconds"`
	CPU      float64                `json:"train_cpu_seconds"`
	Init     string                 `json:"init"`
}

// render writes the tuning log as a Markdown table, one row per configuration tried, in the order tried.
func render(logPath string, w io.Writer) error {
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(w, "| # | name | span | buckets | dim | trained projection | prefixes | bitext | align steps x batch @ lr | QA steps x batch @ lr | tau | sym | seed | val Mo. | val Cr. | val Mul. | XQuAD-R Mo. / Cr. / Mul. | train wall s | CPU s |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 1; sc.Scan(); i++ {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("%s line %d: %w", logPath, i, err)
		}
		r := e.Recipe
		span := r.Tokenizer.Span
		if span == "" {
			span = "word"
		}
		if r.Tokenizer.Unique {
			span += ", unique"
		}
		if r.Tokenizer.Romanize {
			span += ", romanized"
		}
		xq := ""
		if e.XQuAD != nil {
			xq = fmt.Sprintf("%.3f / %.3f / %.3f", e.XQuAD.Mo, e.XQuAD.Cr, e.XQuAD.Mul)
		}
		align := fmt.Sprintf("%d x %d @ %g", r.AlignSteps, r.AlignBatch, r.AlignLR)
		qa := fmt.Sprintf("%d x %d @ %g", r.QASteps, r.QABatch, r.QALR)
		if r.AlignSteps == 0 {
			align = "-"
		}
		if e.Init != "" {
			align = "from " + strings.TrimSuffix(filepath.Base(e.Init), ".onnx")
		}
		if r.QASteps == 0 {
			qa = "-"
		}
		fmt.Fprintf(w, "| %d | %s | %s | 2^%d | %d | %v | %v | %s | %s | %s | %g | %v | %d | %.4f | %.4f | %.4f | %s | %.0f | %.0f |\n",
			i, e.Name, span, log2(r.Tokenizer.Buckets), r.Dim, r.Projection, r.Prefixes, strings.Join(r.Bitext, ","), align, qa,
			r.Temperature, r.Symmetric, e.Seed, e.Val.Mo, e.Val.Cr, e.Val.Mul, xq, e.Wall, e.CPU)
	}
	return sc.Err()
}

func log2(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}
