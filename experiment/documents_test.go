package experiment

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xling/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the generated parts of EXPERIMENTS.md and docs/experiments-appendix.md from the committed results")

// committedResults are the experiments behind EXPERIMENTS.md, in the order the documents hold them.
var committedResults = []string{"EXPERIMENTS.json.gz", "EXPERIMENTS-reverse.json.gz", "EXPERIMENTS-full.json.gz"}

const generatedEnd = "<!-- end of generated text -->\n"

func generatedBegin(part, results string) string {
	return fmt.Sprintf("<!-- generated: the %s of %s; `go test ./experiment -run TestDocuments -update` rewrites it -->\n", part, results)
}

// Every generated block of EXPERIMENTS.md is WriteSummary of its committed results, and every block of
// docs/experiments-appendix.md is WriteAppendix of them, byte for byte; each document holds each results
// file's block once, in order, and no other generated block. With -update the blocks are rewritten.
func TestDocumentsMatchCommittedResults(t *testing.T) {
	root := testenv.RepoRoot(t)
	results := make([]*Results, len(committedResults))
	for i, name := range committedResults {
		res, err := readCommitted(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		results[i] = res
	}
	for _, doc := range []struct {
		path  string
		part  string
		write func(io.Writer, *Results)
	}{
		{"EXPERIMENTS.md", "summary", WriteSummary},
		{filepath.Join("docs", "experiments-appendix.md"), "appendix", WriteAppendix},
	} {
		path := filepath.Join(root, doc.path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if n := strings.Count(text, "<!-- generated: "); n != len(committedResults) {
			t.Errorf("%s: %d generated blocks, want %d", doc.path, n, len(committedResults))
		}
		from := 0
		for i, name := range committedResults {
			var want strings.Builder
			doc.write(&want, results[i])
			begin := generatedBegin(doc.part, name)
			start := strings.Index(text[from:], begin)
			if start < 0 {
				t.Errorf("%s: no generated %s of %s after byte %d (the blocks follow %v)", doc.path, doc.part, name, from, committedResults)
				continue
			}
			start += from + len(begin)
			end := strings.Index(text[start:], generatedEnd)
			if end < 0 {
				t.Errorf("%s: the %s of %s does not end with %q", doc.path, doc.part, name, generatedEnd)
				break
			}
			end += start
			if got := text[start:end]; got != want.String() {
				if *update {
					text = text[:start] + want.String() + text[end:]
					end = start + want.Len()
				} else {
					t.Errorf("%s: the %s of %s differs from its rendering; first at %s (run the test with -update)", doc.path, doc.part, name, firstDifference(got, want.String()))
				}
			}
			from = end + len(generatedEnd)
		}
		if *update && text != string(b) {
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", doc.path)
		}
	}
}

// The summary is the report's short part: Table 1, the low-resource scores beside their degradation and
// the per-seed degradation; the per-language tables, the tests and the data are in the appendix only.
// Together they are the whole report.
func TestSummaryAndAppendixSplitTheReport(t *testing.T) {
	res, err := readCommitted(filepath.Join(testenv.RepoRoot(t), "EXPERIMENTS-reverse.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var summary, appendix, whole strings.Builder
	WriteSummary(&summary, res)
	WriteAppendix(&appendix, res)
	WriteMarkdown(&whole, res)
	if summary.String()+appendix.String() != whole.String() {
		t.Error("summary and appendix together are not the report")
	}
	for _, want := range []string{"### Table 1: mAP on mlqa-r", "### Mul. mAP of English and the low-resource languages", "| en |", "| hi (low) |", "per seed"} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, notWant := range []string{"Paired tests", "SHA-256", "Mo. mAP per language", "| de |"} {
		if strings.Contains(summary.String(), notWant) {
			t.Errorf("summary holds %q, which belongs to the appendix", notWant)
		}
	}
	for _, want := range []string{"Paired tests", "SHA-256", "Mo. mAP per language", "| de |", "#### Mul. mAP"} {
		if !strings.Contains(appendix.String(), want) {
			t.Errorf("appendix lacks %q", want)
		}
	}
}

func readCommitted(path string) (*Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var res Results
	if err := json.NewDecoder(gz).Decode(&res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(res.Runs) == 0 {
		return nil, fmt.Errorf("%s: no runs", path)
	}
	return &res, nil
}

// firstDifference names the first line where got and want part.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d of the block: %q, want %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("line %d of the block: %d lines, want %d", min(len(g), len(w))+1, len(g), len(w))
}
