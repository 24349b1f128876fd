package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(data, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(dir, "metrics.parquet")
	out := writeTable(t, table, []MetricRow{{RunID: "r", Model: "m", Dataset: "xquad-r", Setting: "mono", QueryLang: "en", CandLang: "en", Metric: "map", Value: 0.5, Queries: 2, Time: time.Unix(1, 0)}})

	start := time.Date(2026, 11, 25, 13, 0, 0, 123456789, time.UTC)
	config := map[string]any{"alpha": 0.5, "langs": []any{"en", "el"}, "batch": 100.0}
	m := NewManifest("run-7", []string{"xling", "eval", "-model", "hashbag"}, config, start)
	m.End = start.Add(90 * time.Second)
	m.ONNXRuntimeVersion = "1.30.0"
	if err := m.AddData(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	m.AddOutput(out)
	path := filepath.Join(dir, "manifest.json")
	if err := WriteManifest(path, m); err != nil {
		t.Fatal(err)
	}

	got, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("read back:\n%+v\nwant\n%+v", got, m)
	}
	// SHA-256("abc"), the FIPS 180-2 test vector.
	wantData := DataFile{Path: data, Bytes: 3, SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
	if len(got.Data) != 1 || got.Data[0] != wantData {
		t.Errorf("data = %+v, want %+v", got.Data, wantData)
	}
	if len(got.Outputs) != 1 || got.Outputs[0].Rows != 1 || got.Outputs[0].SHA256 != sha256sum(t, table) {
		t.Errorf("outputs = %+v, want metrics.parquet with 1 row and sha256 %s", got.Outputs, sha256sum(t, table))
	}
	if got.Host.NumCPU < 1 || got.Host.GOOS == "" || got.GoVersion == "" {
		t.Errorf("host %+v, go %q: want them filled", got.Host, got.GoVersion)
	}

	// The file's keys are the documented snake_case names.
	var raw map[string]any
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"run_id", "command", "config", "start", "end", "go_version", "main_module", "modules",
		"onnxruntime_version", "host", "data", "outputs"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("manifest lacks key %q", k)
		}
	}
	if raw["start"] != "2026-11-25T13:00:00.123456789Z" {
		t.Errorf("start = %v, want RFC 3339 with nanoseconds", raw["start"])
	}
}

// TestManifestRecordsModules builds a real binary, since test binaries record no module dependencies.
func TestManifestRecordsModules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "run", "./testdata/manifestmain", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run manifestmain: %v\n%s", err, out)
	}
	m, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.MainModule.Path != "xling" {
		t.Errorf("main module = %+v, want xling", m.MainModule)
	}
	i := slices.IndexFunc(m.Modules, func(m Module) bool { return m.Path == "github.com/parquet-go/parquet-go" })
	if i < 0 || m.Modules[i].Version != "v0.32.0" || !strings.HasPrefix(m.Modules[i].Sum, "h1:") {
		t.Errorf("modules %+v lack github.com/parquet-go/parquet-go v0.32.0 with its h1: sum", m.Modules)
	}
	if m.GoVersion != runtime.Version() {
		t.Errorf("go version = %q, want %q (the go that built it is the one running this test)", m.GoVersion, runtime.Version())
	}
}

func TestManifestAddDataStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d")
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := NewManifest("r", nil, nil, time.Now())
	if err := m.AddData(ctx, path); !errors.Is(err, context.Canceled) {
		t.Errorf("AddData with a cancelled context = %v, want context.Canceled", err)
	}
	if len(m.Data) != 0 {
		t.Errorf("cancelled AddData recorded %+v", m.Data)
	}
}

func TestReadManifestRejects(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"not json", []byte("run_id: x")},
		{"oversized", make([]byte, maxManifestBytes+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "manifest.json")
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadManifest(path); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// AddKnown records the digest it is given, and the file's size, without reading the file; a file that is
// not there is an error naming it.
func TestManifestAddKnownTakesTheCallersDigest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, []byte("twelve bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	var m Manifest
	const sum = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" // not the file's: never read
	if err := m.AddKnown(path, sum); err != nil {
		t.Fatal(err)
	}
	if want := (DataFile{Path: path, Bytes: 12, SHA256: sum}); len(m.Data) != 1 || m.Data[0] != want {
		t.Errorf("data %+v, want [%+v]", m.Data, want)
	}
	missing := filepath.Join(t.TempDir(), "gone.onnx")
	if err := m.AddKnown(missing, sum); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing file: error %v, want one naming %s", err, missing)
	}
}
