package download

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"xling/internal/testenv"
)

// upstream serves the shared data directory at the URLs the manifest names, like raw GitHub would,
// and counts requests.
func upstream(t *testing.T, dir string, files []File) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	byURL := map[string]string{}
	for _, f := range files {
		byURL[strings.TrimPrefix(f.URL("http://upstream"), "http://upstream/")] = f.Path
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rel, ok := byURL[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(rel)))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// The manifest must list exactly the files DATA.md lists, with the same digests.
func TestManifestMatchesDataMD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.DataDir(t), "DATA.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if sum, p, ok := strings.Cut(line, "  ./"); ok && len(sum) == 64 {
			want[p] = sum
		}
	}
	got := map[string]string{}
	for _, f := range Manifest() {
		got[f.Path] = f.SHA256
		if len(f.Commit) != 40 {
			t.Errorf("%s: commit %q is not a full hash", f.Path, f.Commit)
		}
	}
	if len(got) != len(want) {
		t.Errorf("manifest has %d files, DATA.md %d", len(got), len(want))
	}
	for p, sum := range want {
		if got[p] != sum {
			t.Errorf("%s: manifest SHA-256 %q, DATA.md %q", p, got[p], sum)
		}
	}
}

func TestFetchDownloadsVerifiesAndSkipsPresentFiles(t *testing.T) {
	files := Manifest()
	srv, hits := upstream(t, testenv.DataDir(t), files)
	dest := t.TempDir()
	d := &Downloader{Client: srv.Client(), BaseURL: srv.URL}
	if err := d.Fetch(context.Background(), dest, files); err != nil {
		t.Fatal(err)
	}
	if got := hits.Load(); got != int64(len(files)) {
		t.Errorf("%d requests for %d files", got, len(files))
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dest, filepath.FromSlash(f.Path))); err != nil {
			t.Error(err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dest, "*", "*.part"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// A second run finds everything in place; a damaged file is fetched again.
	broken := filepath.Join(dest, "xquad-r", "en.json")
	if err := os.WriteFile(broken, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	hits.Store(0)
	if err := d.Fetch(context.Background(), dest, files); err != nil {
		t.Fatal(err)
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("second run made %d requests, want 1 (the damaged file)", got)
	}
}

func TestFetchFailsCleanly(t *testing.T) {
	dataDir := testenv.DataDir(t)
	good := File{Path: "xquad-r/en.json", Repo: "google-research-datasets/lareqa", Commit: strings.Repeat("a", 40),
		Source: "xquad-r/en.json", SHA256: "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe"}
	wrongSum := good
	wrongSum.SHA256 = strings.Repeat("0", 64)
	missing := good
	missing.Source = "nope.json"
	outside := good
	outside.Path = "../escape.json"
	absolute := good
	absolute.Path = "/tmp/escape.json"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		f    File
		want string
	}{
		{"checksum mismatch", context.Background(), wrongSum, "SHA-256 7b0954f3"},
		{"HTTP error", context.Background(), missing, "404"},
		{"path outside the destination", context.Background(), outside, "not inside the destination"},
		{"absolute path", context.Background(), absolute, "not inside the destination"},
		{"canceled", canceled, good, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := upstream(t, dataDir, []File{good})
			dest := t.TempDir()
			d := &Downloader{Client: srv.Client(), BaseURL: srv.URL}
			err := d.Fetch(tt.ctx, dest, []File{tt.f})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Fetch error = %v, want %q", err, tt.want)
			}
			var left []string
			_ = filepath.WalkDir(dest, func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					left = append(left, p)
				}
				return err
			})
			if len(left) != 0 {
				t.Errorf("files left behind: %v", left)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "escape.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a file was written outside the destination: %v", err)
			}
		})
	}
}
