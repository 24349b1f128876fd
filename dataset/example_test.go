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
