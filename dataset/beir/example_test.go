package beir_test

import (
	"fmt"
	"os"
	"path/filepath"

	"xling/dataset/beir"
)

// Reading a BEIR directory: queries at once, the corpus as a stream.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "beir")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id": "d1", "title": "Albedo", "text": "Albedo is the measure of diffuse reflection."}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id": "q1", "text": "what is albedo"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\n"), 0o644)

	r, err := beir.Open(dir, beir.Options{Lang: "en"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range r.Queries() {
		fmt.Println(q.ID, q.Text)
	}
	for c, err := range r.Candidates() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(c.ID, c.QIDs)
	}
	// Output:
	// en/q/q1 what is albedo
	// en/c/d1 [q1]
}
