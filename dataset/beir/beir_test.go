package beir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"xling/dataset"
)

// write makes a BEIR directory from the three files' contents.
func write(t *testing.T, corpus, queries, qrels string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "qrels"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"corpus.jsonl": corpus, "queries.jsonl": queries, "qrels/test.tsv": qrels} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	goodCorpus = `{"_id": "d1", "title": "กรุงเทพ", "text": "กรุงเทพมหานครเป็นเมืองหลวง"}
{"_id": "d2", "title": "", "text": "Second <script>alert(1)</script> document."}

{"_id": "d3", "text": "Third, untitled and unjudged."}
`
	goodQueries = `{"_id": "q1", "text": "เมืองหลวงคืออะไร"}
{"_id": "q2", "text": "Which document is second?", "metadata": {}}
{"_id": "q3", "text": "A query judged only irrelevant."}
{"_id": "q4", "text": "A query of another split."}
`
	goodQrels = "query-id\tcorpus-id\tscore\nq2\td2\t1\nq1\td1\t2\nq1\td2\t1\nq3\td3\t0\n"
)

func TestReadGivesTheItemsTheLAReQAReadersGive(t *testing.T) {
	r, err := Open(write(t, goodCorpus, goodQueries, goodQrels), Options{Dataset: "miracl-th", Lang: "th"})
	if err != nil {
		t.Fatal(err)
	}
	wantQ := []dataset.Item{
		{Dataset: "miracl-th", Lang: "th", Kind: dataset.Query, ID: "th/q/q2", QID: "q2", Text: "Which document is second?"},
		{Dataset: "miracl-th", Lang: "th", Kind: dataset.Query, ID: "th/q/q1", QID: "q1", Text: "เมืองหลวงคืออะไร"},
	}
	if got := r.Queries(); !reflect.DeepEqual(got, wantQ) {
		t.Errorf("queries:\n got %+v\nwant %+v", got, wantQ)
	}
	wantC := []dataset.Item{
		{Dataset: "miracl-th", Lang: "th", Kind: dataset.Candidate, ID: "th/c/d1", Text: "กรุงเทพมหานครเป็นเมืองหลวง", Context: "กรุงเทพ", QIDs: []string{"q1"}},
		{Dataset: "miracl-th", Lang: "th", Kind: dataset.Candidate, ID: "th/c/d2", Text: "Second <script>alert(1)</script> document.", QIDs: []string{"q2", "q1"}},
		{Dataset: "miracl-th", Lang: "th", Kind: dataset.Candidate, ID: "th/c/d3", Text: "Third, untitled and unjudged."},
	}
	var got []dataset.Item
	for it, err := range r.Candidates() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, it)
	}
	if !reflect.DeepEqual(got, wantC) {
		t.Errorf("candidates:\n got %+v\nwant %+v", got, wantC)
	}
	if r.Documents() != 3 {
		t.Errorf("%d documents, want 3", r.Documents())
	}
	if sum := sha256.Sum256([]byte(goodCorpus)); r.CorpusSHA256() != hex.EncodeToString(sum[:]) {
		t.Errorf("corpus SHA-256 %s, want %x", r.CorpusSHA256(), sum)
	}
	// Stopping early is allowed and yields nothing more.
	n := 0
	for range r.Candidates() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d items after break, want 1", n)
	}
}

func TestOpenNamesFileLineAndFieldOfBadInput(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tc := range []struct {
		name                   string
		corpus, queries, qrels string
		opts                   Options
		want                   string // in the error
	}{
		{"corpus line not JSON", goodCorpus + "{\"_id\": \"d4\", \"text\": \n", goodQueries, goodQrels, Options{}, "corpus.jsonl:5: not a JSON object"},
		{"id missing", `{"text": "t"}` + "\n", goodQueries, goodQrels, Options{}, "corpus.jsonl:1: _id: missing"},
		{"text a number", `{"_id": "d1", "text": 7}` + "\n", goodQueries, goodQrels, Options{}, "corpus.jsonl:1: text: not a string"},
		{"text only spaces", `{"_id": "d1", "text": " \t"}` + "\n", goodQueries, goodQrels, Options{}, "corpus.jsonl:1: text: empty"},
		{"invalid UTF-8", goodCorpus + "{\"_id\": \"d4\", \"text\": \"\xff\"}\n", goodQueries, goodQrels, Options{}, "corpus.jsonl:5: invalid UTF-8"},
		{"lone surrogate", `{"_id": "d1", "text": "a\ud800b"}` + "\n", goodQueries, goodQrels, Options{}, "corpus.jsonl:1: text: invalid \\u escape"},
		{"duplicate document", goodCorpus + `{"_id": "d2", "text": "again"}` + "\n", goodQueries, goodQrels, Options{}, `corpus.jsonl:5: _id: duplicate id "d2" (first at line 2)`},
		{"duplicate query", goodCorpus, goodQueries + `{"_id": "q1", "text": "again"}` + "\n", goodQrels, Options{}, `queries.jsonl:5: _id: duplicate id "q1" (first at line 1)`},
		{"text over the bound", `{"_id": "d1", "text": "` + long + `"}` + "\n", goodQueries, goodQrels, Options{MaxTextBytes: 100}, "corpus.jsonl:1: text: 200 bytes, more than 100"},
		{"line over the bound", goodCorpus, goodQueries + `{"_id": "q9", "text": "` + long + `"}` + "\n", goodQrels, Options{MaxLineBytes: 150}, "queries.jsonl:5: line longer than 150 bytes"},
		{"too many queries", goodCorpus, goodQueries, goodQrels, Options{MaxDocs: 3}, "queries.jsonl:4: more than 3 queries"},
		{"too many documents", goodCorpus, strings.Join(strings.SplitAfter(goodQueries, "\n")[:2], ""), "q1\td1\t1\n", Options{MaxDocs: 2}, "corpus.jsonl:4: more than 2 documents"},
		{"qrels names a missing document", goodCorpus, goodQueries, goodQrels + "q2\td9\t1\n", Options{}, `test.tsv:6: corpus-id: document "d9" is not in`},
		{"qrels names a missing query", goodCorpus, goodQueries, goodQrels + "q9\td1\t1\n", Options{}, `test.tsv:6: query-id: query "q9" is not in queries.jsonl`},
		{"qrels score not a number", goodCorpus, goodQueries, goodQrels + "q2\td1\thigh\n", Options{}, `test.tsv:6: score: "high" is not an integer`},
		{"qrels with two fields", goodCorpus, goodQueries, goodQrels + "q2 d1 1\n", Options{}, "test.tsv:6: 1 tab-separated fields, want 3"},
		{"qrels judges a pair twice", goodCorpus, goodQueries, goodQrels + "q2\td2\t0\n", Options{}, `test.tsv:6: query "q2" and document "d2" judged twice (first at line 2)`},
		{"no language", goodCorpus, goodQueries, goodQrels, Options{Lang: "-"}, `language "-"`},
		{"split with a path in it", goodCorpus, goodQueries, goodQrels, Options{Split: "../test"}, `split "../test"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Lang == "" {
				tc.opts.Lang = "th"
			}
			_, err := Open(write(t, tc.corpus, tc.queries, tc.qrels), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCandidatesFailIfTheCorpusChangesAfterOpen(t *testing.T) {
	dir := write(t, goodCorpus, goodQueries, goodQrels)
	r, err := Open(dir, Options{Lang: "th"})
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(goodCorpus, "Third", "3rd", 1)
	if err := os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range r.Candidates() {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "changed after it was checked") {
		t.Errorf("last error %v, want the corpus reported changed", last)
	}
	var be *Error
	if _, err := Open(write(t, `{"_id": 1, "text": "t"}`+"\n", goodQueries, goodQrels), Options{Lang: "th"}); !errors.As(err, &be) || be.Line != 1 || be.Field != "_id" {
		t.Errorf("error %v: want a *beir.Error at line 1, field _id", err)
	}
}

// A BEIR file linked out of the dataset directory is refused; a link inside it is read.
func TestOpenRefusesFilesLinkedOutOfTheDirectory(t *testing.T) {
	outside := write(t, goodCorpus, goodQueries, goodQrels)
	for _, tc := range []struct {
		name, file, target string
		want               string // the error; "" for none
	}{
		{name: "corpus linked out", file: "corpus.jsonl", target: filepath.Join(outside, "corpus.jsonl"), want: "corpus.jsonl leads out of"},
		{name: "qrels linked out", file: "qrels/test.tsv", target: filepath.Join(outside, "qrels", "test.tsv"), want: "test.tsv leads out of"},
		{name: "qrels directory linked out", file: "qrels", target: filepath.Join(outside, "qrels"), want: "test.tsv leads out of"},
		{name: "queries linked inside", file: "queries.jsonl", target: "queries.copy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, goodCorpus, goodQueries, goodQrels)
			if err := os.Rename(filepath.Join(dir, "queries.jsonl"), filepath.Join(dir, "queries.copy")); err != nil {
				t.Fatal(err)
			}
			if tc.file != "queries.jsonl" {
				if err := os.Rename(filepath.Join(dir, "queries.copy"), filepath.Join(dir, "queries.jsonl")); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.RemoveAll(filepath.Join(dir, tc.file)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tc.target, filepath.Join(dir, tc.file)); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, Options{Lang: "th"})
			if tc.want == "" && err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}
