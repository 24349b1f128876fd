package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
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
// and counts requests. The upstream parts of a derived bitext are cut back out of the shared derived
// files (upstreamParts).
func upstream(t *testing.T, dir string, files []File) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	paths := map[string]string{}
	blobs := map[string][]byte{}
	for _, f := range files {
		if f.Bitext == nil {
			paths[urlPath(f, f.Source)] = filepath.Join(dir, filepath.FromSlash(f.Path))
			continue
		}
		derived, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		var parts []Part
		for _, pair := range f.Bitext.Parts {
			parts = append(parts, pair[f.Side])
		}
		for source, b := range upstreamParts(t, f.Path, derived, parts) {
			blobs[urlPath(f, source)] = b
		}
	}
	return serve(t, paths, blobs)
}

// urlPath is the path of source in f's repository at its commit on the server.
func urlPath(f File, source string) string {
	return strings.TrimPrefix(f.sourceURL("http://upstream", source), "http://upstream/")
}

// serve answers each URL path with the file named in paths or the content in blobs, and counts requests.
func serve(t *testing.T, paths map[string]string, blobs map[string][]byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		key := strings.TrimPrefix(r.URL.Path, "/")
		if b, ok := blobs[key]; ok {
			_, _ = w.Write(b)
			return
		}
		name, ok := paths[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, name)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// upstreamParts cuts one side of a derived bitext back into the upstream files it was concatenated from,
// ending each at the first line end where the SHA-256 of the bytes since the last cut is that part's
// pinned digest. This recovers the real upstream files of the shared newstest data because no line of
// those sets at the pinned commit has an empty side, so the derivation dropped nothing; it fails if the
// pinned digests do not cut the shared file exactly.
func upstreamParts(t *testing.T, name string, derived []byte, parts []Part) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	start := 0
	for _, p := range parts {
		h := sha256.New()
		end := -1
		for i := start; end < 0 && i < len(derived); {
			n := bytes.IndexByte(derived[i:], '\n') + 1
			if n == 0 {
				n = len(derived) - i
			}
			h.Write(derived[i : i+n])
			i += n
			if hex.EncodeToString(h.Sum(nil)) == p.SHA256 {
				end = i
			}
		}
		if end < 0 {
			t.Fatalf("%s: no run of lines from byte %d has the SHA-256 of %s", name, start, p.Source)
		}
		out[p.Source] = derived[start:end]
		start = end
	}
	if start != len(derived) {
		t.Fatalf("%s: %d bytes left after the last upstream part", name, len(derived)-start)
	}
	return out
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
	dataDir := testenv.DataDir(t)
	files := Manifest()
	srv, hits := upstream(t, dataDir, files)
	dest := t.TempDir()
	d := &Downloader{Client: srv.Client(), BaseURL: srv.URL, Logger: slog.New(slog.DiscardHandler)}
	if err := d.Fetch(context.Background(), dest, files); err != nil {
		t.Fatal(err)
	}
	// One request per copied file, and one per upstream part of each bitext, shared by its two sides.
	want, seen := 0, map[*Bitext]bool{}
	for _, f := range files {
		if f.Bitext == nil {
			want++
		} else if !seen[f.Bitext] {
			seen[f.Bitext] = true
			want += 2 * len(f.Bitext.Parts)
		}
	}
	if got := hits.Load(); got != int64(want) {
		t.Errorf("%d requests, want %d", got, want)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Error(err)
			continue
		}
		if f.Bitext == nil {
			continue
		}
		if shared, err := os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(f.Path))); err != nil {
			t.Error(err)
		} else if !bytes.Equal(got, shared) {
			t.Errorf("%s: derived %d bytes differ from the shared copy's %d", f.Path, len(got), len(shared))
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dest, "*", "*", "*.part"))
	more, _ := filepath.Glob(filepath.Join(dest, "*", "*.part"))
	if leftovers = append(leftovers, more...); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// A second run finds everything in place; a damaged file is fetched again, a derived one from its
	// upstream parts (eng-hin has one pair of them).
	for _, broken := range []string{"xquad-r/en.json", "bitext/newstest/eng-hin.hin"} {
		if err := os.WriteFile(filepath.Join(dest, filepath.FromSlash(broken)), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hits.Store(0)
	if err := d.Fetch(context.Background(), dest, files); err != nil {
		t.Fatal(err)
	}
	if got := hits.Load(); got != 3 {
		t.Errorf("second run made %d requests, want 3 (the damaged file and eng-hin's two parts)", got)
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
