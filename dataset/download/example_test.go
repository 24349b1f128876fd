package download_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"xling/dataset/download"
)

// A Bitext derives both sides of a line-aligned file pair from upstream files: here one pair of them, whose
// second line has an empty English side and is dropped.
func ExampleBitext() {
	const commit = "0123456789012345678901234567890123456789"
	upstream := map[string]string{"t.eng": "Hello\n\nBye\n", "t.deu": "Hallo\nNa\nTschüss\n"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		content, ok := upstream[strings.TrimPrefix(r.URL.Path, "/o/r/"+commit+"/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, content)
	}))
	defer srv.Close()

	hexSum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	b := &download.Bitext{Parts: [][2]download.Part{{
		{Source: "t.eng", SHA256: hexSum(upstream["t.eng"])},
		{Source: "t.deu", SHA256: hexSum(upstream["t.deu"])},
	}}}
	files := []download.File{
		{Path: "eng-deu.eng", Repo: "o/r", Commit: commit, SHA256: hexSum("Hello\nBye\n"), Bitext: b, Side: 0},
		{Path: "eng-deu.deu", Repo: "o/r", Commit: commit, SHA256: hexSum("Hallo\nTschüss\n"), Bitext: b, Side: 1},
	}
	dir, err := os.MkdirTemp("", "bitext")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := &download.Downloader{BaseURL: srv.URL, Logger: slog.New(slog.DiscardHandler)}
	if err := d.Fetch(context.Background(), dir, files); err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		content, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %q\n", f.Path, content)
	}
	// Output:
	// eng-deu.eng: "Hello\nBye\n"
	// eng-deu.deu: "Hallo\nTschüss\n"
}
