// Package transformer_test checks xling's ONNX Runtime runner (xling/encoder/ort) on transformer
// encoders of real shape — BERT/XLM-R layers with seeded random weights, built and exported by
// testdata/export.py — against PyTorch's forward pass, and benchmarks it against bare ONNX Runtime
// and onnxruntime-node.
package transformer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"xling/encoder/ort"
	"xling/internal/testenv"
)

// config is an encoder's shape and export options, as testdata/export.py reads them.
type config struct {
	Layers         int               `json:"layers"`
	Hidden         int               `json:"hidden"`
	Heads          int               `json:"heads"`
	FFN            int               `json:"ffn"`
	Vocab          int               `json:"vocab"`
	MaxPositions   int               `json:"max_positions"`
	PositionOffset int               `json:"position_offset"`
	TypeVocab      int               `json:"type_vocab"` // 0: no token_type_ids input
	Int32          bool              `json:"int32"`
	Pooled         bool              `json:"pooled"` // a sentence_embedding output instead of last_hidden_state
	Seed           int64             `json:"seed"`
	Opset          int               `json:"opset"`
	Rename         map[string]string `json:"rename,omitempty"`
}

// maxLen is the longest row the model's position table takes.
func (c config) maxLen() int { return c.MaxPositions - c.PositionOffset }

// Shapes. The vocabularies are cut from XLM-R's 250002 to keep the files small: the embedding table
// is a gather, so its size barely changes the speed.
var (
	tiny = config{Layers: 2, Hidden: 64, Heads: 4, FFN: 256, Vocab: 1000, MaxPositions: 66,
		PositionOffset: 2, TypeVocab: 2, Seed: 1, Opset: 14}
	miniLM = config{Layers: 12, Hidden: 384, Heads: 12, FFN: 1536, Vocab: 30000, MaxPositions: 514,
		PositionOffset: 2, TypeVocab: 1, Seed: 2, Opset: 14}
	base = config{Layers: 12, Hidden: 768, Heads: 12, FFN: 3072, Vocab: 30000, MaxPositions: 514,
		PositionOffset: 2, TypeVocab: 1, Seed: 3, Opset: 14}
)

// row is one tokenized text; TypeIDs nil means all zeros.
type row struct {
	IDs     []int64 `json:"ids"`
	TypeIDs []int64 `json:"type_ids"`
}

// reference is PyTorch's embeddings of a job's rows, each run alone.
type reference struct {
	Mean     [][]float32 `json:"mean"`
	CLS      [][]float32 `json:"cls"`
	MeanNorm [][]float32 `json:"mean_norm"`
	CLSNorm  [][]float32 `json:"cls_norm"`
}

// exportScript builds, exports and runs the models in PyTorch.
const exportScript = "testdata/export.py"

type job struct {
	Config config `json:"config"`
	ONNX   string `json:"onnx"`
	Rows   []row  `json:"rows"`
}

// modelPath is where the model of c is cached: the name holds a hash of the config and of the
// exporter, so a changed config or export.py makes a new file, never a stale one.
func modelPath(tb testing.TB, name string, c config) string {
	tb.Helper()
	js, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	script, err := os.ReadFile(exportScript)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(append(js, script...))
	dir := filepath.Join(testenv.RepoRoot(tb), ".cache", "models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, fmt.Sprintf("encoder-%s-%s.onnx", name, hex.EncodeToString(sum[:6])))
}

// runExport exports every job's model that is not cached yet and returns PyTorch's references, in
// one Python process.
func runExport(tb testing.TB, jobs []job) []reference {
	tb.Helper()
	py := testenv.RequirePython(tb, "torch", "onnx")
	req, err := json.Marshal(jobs)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), py, exportScript)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("run %s: %v\n%s", exportScript, err, stderr.Bytes())
	}
	var refs []reference
	if err := json.Unmarshal(stdout.Bytes(), &refs); err != nil {
		tb.Fatalf("read %s output: %v", exportScript, err)
	}
	if len(refs) != len(jobs) {
		tb.Fatalf("%s answered %d jobs, want %d", exportScript, len(refs), len(jobs))
	}
	return refs
}

// model returns the path of c's exported model, exporting it first if needed.
func model(tb testing.TB, name string, c config) string {
	tb.Helper()
	path := modelPath(tb, name, c)
	if _, err := os.Stat(path); err != nil {
		runExport(tb, []job{{Config: c, ONNX: path}})
	}
	return path
}

// newRuntime loads ONNX Runtime for the test and closes it after.
func newRuntime(tb testing.TB) *ort.Runtime {
	tb.Helper()
	rt, err := ort.NewRuntime(testenv.ORTLibrary(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := rt.Close(); err != nil {
			tb.Error(err)
		}
	})
	return rt
}

func open(tb testing.TB, rt *ort.Runtime, path string, cfg ort.SessionConfig) *ort.Session {
	tb.Helper()
	s, err := rt.Open(path, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}
