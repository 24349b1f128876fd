package report_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"xling/internal/testenv"
	"xling/report"
)

// The committed experiment renders, and its side-by-side table agrees with the first Table 1 of
// EXPERIMENTS.md (the XQuAD-R experiment; the second is the reverse protocol's), which the experiment's own
// Markdown writer printed from the same results.
func TestReportOfTheCommittedExperimentMatchesItsMarkdown(t *testing.T) {
	root := testenv.RepoRoot(t)
	res, err := report.ReadResults(filepath.Join(root, "EXPERIMENTS.json.gz"), report.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	in := report.FromResults(res)
	const arms = 7 // untrained and 6 strategies
	if len(in.Sets) != arms || len(in.Tests) == 0 {
		t.Fatalf("%d arms and %d tests, want %d arms and the experiment's tests", len(in.Sets), len(in.Tests), arms)
	}
	var b bytes.Buffer
	if err := report.Write(&b, in, report.Options{HeldOut: res.Config.Holdout}); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// The side-by-side table: header row of models, then one row per measure.
	got := map[string][]string{}
	var models []string
	for n := range doc.Descendants() {
		if n.Data != "table" || attr(n, "class") != "side" {
			continue
		}
		for tr := range n.Descendants() {
			if tr.Data != "tr" {
				continue
			}
			var cells []string
			for c := tr.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					// Model names are shown between the isolates U+2068 and U+2069.
					cells = append(cells, strings.Trim(textOf(c), "\u2068\u2069"))
				}
			}
			if cells[0] == "measure" {
				models = cells[1:]
			} else {
				got[cells[0]] = cells[1:]
			}
		}
	}
	f, err := os.Open(filepath.Join(root, "EXPERIMENTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checked := 0
	sc := bufio.NewScanner(f)
	for table, seen := false, false; sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "### ") {
			table = strings.HasPrefix(line, "### Table 1:")
			if table && seen {
				break // the reverse protocol's Table 1
			}
			seen = seen || table
			continue
		}
		if !table || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| strategy") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "| "), " | ")
		i := indexOf(models, cols[0])
		if i < 0 {
			t.Errorf("arm %s is not in the report", cols[0])
			continue
		}
		for j, measure := range []string{"Mo. mAP", "Cr. mAP", "Mul. mAP", "mean rank distance"} {
			if got[measure][i] != cols[j+1] {
				t.Errorf("%s %s: report %q, EXPERIMENTS.md %q", cols[0], measure, got[measure][i], cols[j+1])
			}
			checked++
		}
	}
	if checked != arms*4 {
		t.Errorf("checked %d cells of Table 1, want %d", checked, arms*4)
	}
	// 11 x 11 settings per arm.
	if n := strings.Count(b.String(), `<rect class="cell"`); n != arms*121 {
		t.Errorf("%d heatmap cells, want %d", n, arms*121)
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestReadersRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	notParquet := filepath.Join(dir, "bad")
	if err := os.MkdirAll(notParquet, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notParquet, "metrics.parquet"), []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	notResults := filepath.Join(dir, "results.json")
	if err := os.WriteFile(notResults, []byte(`{"runs": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		read func() error
		want string
	}{
		{"a missing run", func() error { _, err := report.ReadRun(filepath.Join(dir, "none"), report.Limits{}); return err }, "metrics.parquet"},
		{"a file that is not Parquet", func() error { _, err := report.ReadRun(notParquet, report.Limits{}); return err }, "bad/metrics.parquet"},
		{"JSON that is not an experiment's", func() error { _, err := report.ReadResults(notResults, report.Limits{}); return err }, "config.eval is empty"},
		{"results over the size limit", func() error {
			_, err := report.ReadResults(notResults, report.Limits{MaxBytes: 5})
			return err
		}, "more than 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
