// Package testenv finds the independent references that tests check xling against (Debian's python3
// with numpy/torch/onnx/sklearn, sentencepiece's tools, ONNX Runtime, the shared datasets).
//
// A missing reference skips the test on a developer's machine, but fails it when XLING_REQUIRE_ORACLES=1
// (set by `make test`), so a test run never reports a check it did not make.
package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Python is Debian's interpreter, which holds the python3-* packages the oracles use.
const Python = "/usr/bin/python3"

// Missing skips t for a missing reference on a developer's machine, and fails it under
// XLING_REQUIRE_ORACLES=1.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("XLING_REQUIRE_ORACLES") == "1" {
		t.Fatalf("required reference missing: %s (run `make test`, which installs it)", what)
	}
	t.Skipf("reference missing: %s", what)
}

// RequirePython returns Debian's python3 after checking that it imports every module named.
func RequirePython(t testing.TB, modules ...string) string {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		Missing(t, Python)
	}
	for _, m := range modules {
		if out, err := exec.Command(Python, "-c", "import "+m).CombinedOutput(); err != nil {
			Missing(t, "python module "+m+": "+string(out))
		}
	}
	return Python
}

// RequireTool returns the path of an executable on PATH.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name)
	}
	return p
}

// ORTLibrary returns the ONNX Runtime shared library named by ONNXRUNTIME_LIB (the Makefile sets it).
func ORTLibrary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("ONNXRUNTIME_LIB")
	if p == "" {
		p = filepath.Join(RepoRoot(t), ".cache", "onnxruntime-1.30.0", "libonnxruntime.so.1")
	}
	if _, err := os.Stat(p); err != nil {
		Missing(t, "ONNX Runtime library ("+p+"; `make ort` fetches it)")
	}
	return p
}

// DataDir returns the shared datasets directory: XLING_DATA, else ../shared/data beside the repository.
func DataDir(t testing.TB) string {
	t.Helper()
	p := os.Getenv("XLING_DATA")
	if p == "" {
		p = filepath.Join(RepoRoot(t), "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(p, "DATA.md")); err != nil {
		Missing(t, "shared data directory "+p)
	}
	return p
}

// RepoRoot is the module root, found from this source file's location.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Sentences returns the first perLang candidate sentences of each XQuAD-R language, languages in
// alphabetical order: real multilingual text in 11 scripts for tests and benchmarks.
func Sentences(t testing.TB, perLang int) []string {
	t.Helper()
	dir := filepath.Join(DataDir(t), "xquad-r")
	var out []string
	for _, lang := range []string{"ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"} {
		path := filepath.Join(dir, lang+".json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		var doc struct {
			Data []struct {
				Paragraphs []struct {
					Sentences []string `json:"sentences"`
				} `json:"paragraphs"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		n := 0
	doc:
		for _, d := range doc.Data {
			for _, p := range d.Paragraphs {
				for _, s := range p.Sentences {
					if n == perLang {
						break doc
					}
					out = append(out, s)
					n++
				}
			}
		}
	}
	return out
}

// NodeModules returns the folder holding the npm references (`make oracles` installs them under
// .cache/npm), with node on the PATH, after checking that every named package is there.
func NodeModules(t testing.TB, packages ...string) string {
	t.Helper()
	RequireTool(t, "node")
	dir := filepath.Join(RepoRoot(t), ".cache", "npm", "node_modules")
	for _, p := range packages {
		if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
			Missing(t, "npm package "+p+" (run `make oracles`)")
		}
	}
	return dir
}

// Logger returns a logger that keeps what it is given, and a function that returns every record so far,
// each decoded from slog's JSON form, for tests that check what was logged.
func Logger(t testing.TB) (*slog.Logger, func() []map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
	return log, func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var recs []map[string]any
		dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
		for dec.More() {
			var r map[string]any
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("testenv: decode log record: %v", err)
			}
			recs = append(recs, r)
		}
		return recs
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
