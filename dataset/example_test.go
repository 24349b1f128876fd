package dataset_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"xling/dataset"
)

// A language is a file: dropping xquad.sw.json into the xquad folder adds Swahili. A stray file is skipped
// with a warning; a LICENSE, which belongs beside data, quietly.
func ExampleDiscover() {
	dir, _ := os.MkdirTemp("", "data")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "xquad"), 0o755)
	for _, name := range []string{"xquad.en.json", "xquad.sw.json", "LICENSE", "notes.bak"} {
		os.WriteFile(filepath.Join(dir, "xquad", name), []byte("{}"), 0o644)
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey:
				return slog.Attr{}
			case "file":
				a.Value = slog.StringValue(filepath.Base(a.Value.String()))
			}
			return a
		},
	}))
	files, err := dataset.Discover(dir, dataset.XQuAD, log)
	if err != nil {
		fmt.Println(err)
	}
	for _, f := range files {
		fmt.Println(f.Lang, filepath.Base(f.Path))
	}
	// Output:
	// level=WARN msg="dataset file skipped" dataset=xquad file=notes.bak reason="not named xquad.<code>.json"
	// en xquad.en.json
	// sw xquad.sw.json
}

// Items from elsewhere (here one Swahili question and its answer) written as a LAReQA language file, which
// Read gives back.
func ExampleWriteLAReQA() {
	items := []dataset.Item{
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Query, ID: "sw/q/q1", QID: "q1", Text: "Juma alinunua nini?"},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "sw/c/0.0.0", Text: "Juma alinunua ndizi.",
			Context: "Juma alinunua ndizi.", QIDs: []string{"q1"}},
	}
	if err := dataset.WriteLAReQA(os.Stdout, "sw", items); err != nil {
		panic(err)
	}
	// Output:
	// {"data":[{"paragraphs":[{"context":"Juma alinunua ndizi.","sentences":["Juma alinunua ndizi."],"sentence_breaks":[[0,20]],"qas":[{"id":"q1","question":"Juma alinunua nini?","answers":[{"text":"Juma alinunua ndizi.","answer_start":0}]}]}]}]}
}
