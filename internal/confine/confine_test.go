package confine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPathStaysInsideItsRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "data")
	for _, d := range []string{"data/sub", "outside"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"data/a.json", "data/sub/b.json", "outside/secret"} {
		if err := os.WriteFile(filepath.Join(base, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"data/in-rel":       "sub/b.json",                             // relative, inside
		"data/in-abs":       filepath.Join(root, "a.json"),            // absolute, inside
		"data/out-rel":      "../outside/secret",                      // relative, out
		"data/out-abs":      filepath.Join(base, "outside", "secret"), // absolute, out
		"data/out-dir":      "../outside",                             // a directory out: its files too
		"data/sub/up":       "..",                                     // the root itself: inside
		"data/sub/chain":    "../out-rel",                             // a link to a link out
		"data/sub/dangling": "nowhere",
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		want string // the error; "" for the path inside root
	}{
		{name: "a.json"},
		{name: "sub/b.json"},
		{name: "sub/../a.json"},
		{name: "in-rel"},
		{name: "in-abs"},
		{name: "sub/up/a.json"},
		{name: "../outside/secret", want: `"../outside/secret" is not a path inside`},
		{name: "sub/../../outside/secret", want: "is not a path inside"},
		{name: filepath.Join(base, "outside", "secret"), want: "is not a path inside"},
		{name: "", want: "is not a path inside"},
		{name: "out-rel", want: "out-rel leads out of " + root},
		{name: "out-abs", want: "out-abs leads out of " + root},
		{name: "out-dir/secret", want: "out-dir/secret leads out of " + root},
		{name: "sub/chain", want: "sub/chain leads out of " + root},
		{name: "sub/dangling", want: "no such file"},
		{name: "missing.json", want: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Path(root, tc.name)
			if tc.want == "" {
				if err != nil || got != filepath.Join(root, tc.name) {
					t.Errorf("Path = %q, %v; want %q", got, err, filepath.Join(root, tc.name))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Path = %q, %v; want an error saying %q", got, err, tc.want)
			}
		})
	}
}
