package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sha256Hex is the hex SHA-256 of s.
func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// syntheticBitext is two aligned pairs of upstream files with empty lines on either side and a last line
// without a newline, the files that derive from them, and the server holding the parts.
func syntheticBitext(t *testing.T, served map[string]string) ([]File, string) {
	t.Helper()
	parts := map[string]string{
		"t/a.eng": "one\n\nthree\n",
		"t/a.xx":  "uno\ndos\n\n",
		"t/b.eng": "four\nfive",
		"t/b.xx":  "cuatro\ncinco\n",
	}
	b := &Bitext{Parts: [][2]Part{
		{{Source: "t/a.eng", SHA256: sha256Hex(parts["t/a.eng"])}, {Source: "t/a.xx", SHA256: sha256Hex(parts["t/a.xx"])}},
		{{Source: "t/b.eng", SHA256: sha256Hex(parts["t/b.eng"])}, {Source: "t/b.xx", SHA256: sha256Hex(parts["t/b.xx"])}},
	}}
	commit := strings.Repeat("c", 40)
	files := []File{
		{Path: "bt/x.eng", Repo: "o/r", Commit: commit, SHA256: sha256Hex("one\nfour\nfive\n"), Bitext: b, Side: 0},
		{Path: "bt/x.xx", Repo: "o/r", Commit: commit, SHA256: sha256Hex("uno\ncuatro\ncinco\n"), Bitext: b, Side: 1},
	}
	blobs := map[string][]byte{}
	for source, content := range parts {
		if s, ok := served[source]; ok {
			content = s
		}
		blobs["o/r/"+commit+"/"+source] = []byte(content)
	}
	srv, _ := serve(t, nil, blobs)
	return files, srv.URL
}

func TestFetchDerivesBitextDroppingEmptySides(t *testing.T) {
	files, base := syntheticBitext(t, nil)
	dest := t.TempDir()
	d := &Downloader{BaseURL: base, Logger: slog.New(slog.DiscardHandler)}
	if err := d.Fetch(context.Background(), dest, files); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"bt/x.eng": "one\nfour\nfive\n", "bt/x.xx": "uno\ncuatro\ncinco\n"} {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(path)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestFetchRefusesBadBitext(t *testing.T) {
	tests := []struct {
		name   string
		served map[string]string // upstream content replacing the pinned one
		edit   func(fs []File)
		want   []string
	}{
		{"tampered upstream file", map[string]string{"t/a.xx": "uno\nDOS\n\n"}, nil,
			[]string{"upstream t/a.xx", "SHA-256 " + sha256Hex("uno\nDOS\n\n")}},
		{"upstream file missing", nil, func(fs []File) { fs[0].Bitext.Parts[1][0].Source = "t/c.eng" },
			[]string{"upstream t/c.eng", "404"}},
		{"sides not line-aligned", nil, func(fs []File) {
			fs[0].Bitext.Parts[1][1].Source = "t/a.eng" // three lines against b.eng's two
			fs[0].Bitext.Parts[1][1].SHA256 = sha256Hex("one\n\nthree\n")
		}, []string{"upstream t/b.eng has 2 lines, t/a.eng 3: not line-aligned"}},
		{"derived file not the pinned one", nil, func(fs []File) { fs[0].SHA256 = sha256Hex("one\nfour\n") },
			[]string{"SHA-256 " + sha256Hex("one\nfour\nfive\n") + ", want " + sha256Hex("one\nfour\n")}},
		{"no such side", nil, func(fs []File) { fs[0].Side = 2 }, []string{"bitext side 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, base := syntheticBitext(t, tt.served)
			if tt.edit != nil {
				tt.edit(files)
			}
			dest := t.TempDir()
			d := &Downloader{BaseURL: base, Logger: slog.New(slog.DiscardHandler)}
			err := d.Fetch(context.Background(), dest, files)
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			for _, w := range append(tt.want, "download bt/x.eng") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Fetch error = %v, want it to contain %q", err, w)
				}
			}
			_ = filepath.WalkDir(dest, func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					t.Errorf("file left behind: %s", p)
				}
				return err
			})
		})
	}
}
