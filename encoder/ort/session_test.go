package ort

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xling/encoder/onnxpb"
	"xling/internal/testenv"
)

func newRuntime(t *testing.T, opts ...Option) *Runtime {
	t.Helper()
	rt, err := NewRuntime(testenv.ORTLibrary(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

// Hand-set tables for the per-token test model: token id i has embedding tokTable[i], token type k
// adds typeTable[k].
var (
	tokTable  = [][]float32{{0, 0}, {1, 0}, {0, 2}, {3, 4}, {-1, 1}}
	typeTable = [][]float32{{0, 0}, {10, 20}}
)

func flat(rows [][]float32) []float32 {
	var f []float32
	for _, r := range rows {
		f = append(f, r...)
	}
	return f
}

// writeModel writes a graph to a temporary file and returns its path.
func writeModel(t *testing.T, g onnxpb.Graph, meta ...onnxpb.StringEntry) string {
	t.Helper()
	m := onnxpb.Model{IRVersion: onnxpb.IRVersion, Opsets: []onnxpb.OpsetID{{Version: onnxpb.OpsetVersion}}, Graph: g, Metadata: meta}
	path := filepath.Join(t.TempDir(), g.Name+".onnx")
	if err := os.WriteFile(path, m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tokenModel is a BERT-shaped stand-in: int32 input_ids, attention_mask and token_type_ids, output
// last_hidden_state = tokTable[id] + typeTable[type], with a symbolic hidden size when symbolic.
func tokenModel(t *testing.T, symbolic bool) string {
	seq := []onnxpb.Dim{{Param: "batch"}, {Param: "seq"}}
	hidden := onnxpb.Dim{Value: 2}
	if symbolic {
		hidden = onnxpb.Dim{Param: "hidden"}
	}
	return writeModel(t, onnxpb.Graph{
		Name: "tokens",
		Nodes: []onnxpb.Node{
			{OpType: "Gather", Inputs: []string{"tok", InputIDs}, Outputs: []string{"a"}},
			{OpType: "Gather", Inputs: []string{"typ", TokenTypeIDs}, Outputs: []string{"b"}},
			{OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{OutputTokens}},
		},
		Initializers: []onnxpb.Tensor{
			{Name: "tok", Dims: []int64{5, 2}, DataType: onnxpb.Float, Float32: flat(tokTable)},
			{Name: "typ", Dims: []int64{2, 2}, DataType: onnxpb.Float, Float32: flat(typeTable)},
		},
		Inputs: []onnxpb.ValueInfo{
			{Name: InputIDs, ElemType: onnxpb.Int32, Shape: seq},
			{Name: AttentionMask, ElemType: onnxpb.Int32, Shape: seq},
			{Name: TokenTypeIDs, ElemType: onnxpb.Int32, Shape: seq},
		},
		Outputs: []onnxpb.ValueInfo{{Name: OutputTokens, ElemType: onnxpb.Float, Shape: []onnxpb.Dim{{Param: "batch"}, {Param: "seq"}, hidden}}},
	}, onnxpb.StringEntry{Key: "xling.model", Value: "tokens"})
}

// pooledModel outputs sentence_embedding = ReduceSum over seq of Cast(input_ids) * attention_mask,
// repeated on 3 columns, from int64 inputs; it has no token_type_ids.
func pooledModel(t *testing.T, inputName, outputName string) string {
	seq := []onnxpb.Dim{{Param: "batch"}, {Param: "seq"}}
	return writeModel(t, onnxpb.Graph{
		Name: "pooled",
		Nodes: []onnxpb.Node{
			{OpType: "Mul", Inputs: []string{inputName, AttentionMask}, Outputs: []string{"m"}},
			{OpType: "Cast", Inputs: []string{"m"}, Outputs: []string{"f"},
				Attributes: []onnxpb.Attribute{{Name: "to", Type: onnxpb.AttrInt, I: int64(onnxpb.Float)}}},
			{OpType: "ReduceSum", Inputs: []string{"f", "axis"}, Outputs: []string{"s"}},
			{OpType: "Mul", Inputs: []string{"s", "cols"}, Outputs: []string{outputName}},
		},
		Initializers: []onnxpb.Tensor{
			{Name: "axis", Dims: []int64{1}, DataType: onnxpb.Int64, Int64: []int64{1}},
			{Name: "cols", Dims: []int64{1, 3}, DataType: onnxpb.Float, Float32: []float32{1, 2, -2}},
		},
		Inputs: []onnxpb.ValueInfo{
			{Name: inputName, ElemType: onnxpb.Int64, Shape: seq},
			{Name: AttentionMask, ElemType: onnxpb.Int64, Shape: seq},
		},
		Outputs: []onnxpb.ValueInfo{{Name: outputName, ElemType: onnxpb.Float, Shape: []onnxpb.Dim{{Param: "batch"}, {Value: 3}}}},
	})
}

// near reports whether a and b agree to 1e-6 element for element; a NaN on either side disagrees.
func near(a, b []float32) bool {
	return len(a) == len(b) && testenv.MaxDiff(a, b) <= 1e-6
}

func TestNearRejectsNaN(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		a, b []float32
		want bool
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, true},
		{"within 1e-6", []float32{1, 2}, []float32{1, 2 + 5e-7}, true},
		{"apart", []float32{1, 2}, []float32{1, 2.1}, false},
		{"NaN got", []float32{nan, 2}, []float32{1, 2}, false},
		{"NaN wanted", []float32{1, 2}, []float32{1, nan}, false},
		{"NaN both", []float32{nan}, []float32{nan}, false},
		{"lengths differ", []float32{1}, []float32{1, 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := near(tc.a, tc.b); got != tc.want {
				t.Errorf("near(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestRuntimeReportsVersionAndIsShared(t *testing.T) {
	rt := newRuntime(t)
	if rt.Version() != "1.30.0" {
		t.Errorf("Version() = %q, want 1.30.0", rt.Version())
	}
	rt2 := newRuntime(t) // shares the environment
	if rt2.Version() != rt.Version() {
		t.Errorf("second runtime version %q", rt2.Version())
	}
	if _, err := NewRuntime("/elsewhere/libonnxruntime.so"); err == nil {
		t.Error("NewRuntime with a second library succeeded, want error")
	}
}

func TestEmbedPoolsPerTokenOutputs(t *testing.T) {
	rt := newRuntime(t)
	batch := Batch{
		IDs:     [][]int64{{1, 2, 3}, {4}, {}},
		TypeIDs: [][]int64{{0, 1, 0}, {1}, {}},
	}
	// Hand-worked: row 0 tokens (1,0) (0+10,2+20) (3,4); row 1 (-1+10, 1+20); row 2 has no tokens.
	tests := []struct {
		name      string
		cfg       SessionConfig
		symbolic  bool
		noTypeIDs bool
		want      []float32
	}{
		{"mean", SessionConfig{Pooling: PoolingMean}, false, false, []float32{14.0 / 3, 26.0 / 3, 9, 21, 0, 0}},
		{"cls", SessionConfig{Pooling: PoolingCLS}, false, false, []float32{1, 0, 9, 21, 0, 0}},
		{"mean without token types", SessionConfig{Pooling: PoolingMean}, false, true, []float32{4.0 / 3, 2, -1, 1, 0, 0}},
		{"cls normalised", SessionConfig{Pooling: PoolingCLS, Normalize: true}, false, false,
			[]float32{1, 0, float32(9 / math.Sqrt(522)), float32(21 / math.Sqrt(522)), 0, 0}},
		{"symbolic hidden size", SessionConfig{Pooling: PoolingCLS, IntraOpThreads: 1}, true, false, []float32{1, 0, 9, 21, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := rt.Open(tokenModel(t, tt.symbolic), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Dim() != 2 {
				t.Errorf("Dim() = %d, want 2", s.Dim())
			}
			if got := s.Metadata()["xling.model"]; got != "tokens" {
				t.Errorf("metadata xling.model = %q", got)
			}
			b := batch
			if tt.noTypeIDs {
				b.TypeIDs = nil
			}
			got, err := s.Embed(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tt.want) {
				t.Errorf("Embed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEmbedReusesTensorsAcrossShapes(t *testing.T) {
	rt := newRuntime(t)
	s, err := rt.Open(pooledModel(t, InputIDs, OutputPooled), SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Row sums times (1, 2, -2); padding must not leak from an earlier, longer batch.
	calls := []struct {
		ids  [][]int64
		want []float32
	}{
		{[][]int64{{1, 2, 3}, {4}}, []float32{6, 12, -12, 4, 8, -8}},
		{[][]int64{{5}, {1, 1}}, []float32{5, 10, -10, 2, 4, -4}},
		{[][]int64{{7, 7}, {2}}, []float32{14, 28, -28, 2, 4, -4}}, // same shape as the last call
		{[][]int64{{9}}, []float32{9, 18, -18}},
		{nil, nil},
	}
	for i, c := range calls {
		got, err := s.Embed(context.Background(), Batch{IDs: c.ids})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if !near(got, c.want) {
			t.Errorf("call %d: Embed(%v) = %v, want %v", i, c.ids, got, c.want)
		}
	}
}

func TestOpenRejectsUnmatchedModels(t *testing.T) {
	rt := newRuntime(t)
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		cfg     SessionConfig
		wantErr string
	}{
		{"unknown input", func(t *testing.T) string { return pooledModel(t, "pixel_values", OutputPooled) }, SessionConfig{}, `"pixel_values"`},
		{"no input_ids", func(t *testing.T) string { return pooledModel(t, TokenTypeIDs, OutputPooled) }, SessionConfig{}, "no input_ids"},
		{"per-token output without pooling", func(t *testing.T) string { return tokenModel(t, false) }, SessionConfig{}, OutputTokens},
		{"pooled output with pooling", func(t *testing.T) string { return pooledModel(t, InputIDs, OutputPooled) }, SessionConfig{Pooling: PoolingMean}, "already pooled"},
		{"unknown pooling", func(t *testing.T) string { return tokenModel(t, false) }, SessionConfig{Pooling: "max"}, `"max"`},
		{"unknown provider", func(t *testing.T) string { return tokenModel(t, false) }, SessionConfig{Pooling: PoolingCLS, Provider: "tpu"}, `"tpu"`},
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.onnx") }, SessionConfig{}, "none.onnx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			s, err := rt.Open(path, tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not name %s and %s", err, path, tt.wantErr)
			}
		})
	}
	// A single output of another name is accepted.
	s, err := rt.Open(pooledModel(t, InputIDs, "embeddings"), SessionConfig{})
	if err != nil {
		t.Fatalf("single pooled output: %v", err)
	}
	s.Close()
}

func TestEmbedRejectsBadBatches(t *testing.T) {
	rt := newRuntime(t)
	s, err := rt.Open(tokenModel(t, false), SessionConfig{Pooling: PoolingMean})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, b := range map[string]Batch{
		"type rows":   {IDs: [][]int64{{1}, {2}}, TypeIDs: [][]int64{{0}}},
		"type length": {IDs: [][]int64{{1, 2}}, TypeIDs: [][]int64{{0}}},
		"id range":    {IDs: [][]int64{{99}}},
	} {
		if _, err := s.Embed(context.Background(), b); err == nil {
			t.Errorf("%s: Embed succeeded, want error", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Embed(ctx, Batch{IDs: [][]int64{{1}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with cancelled context = %v, want context.Canceled", err)
	}
	// The session still works after errors.
	got, err := s.Embed(context.Background(), Batch{IDs: [][]int64{{3}}})
	if err != nil || !near(got, []float32{3, 4}) {
		t.Errorf("Embed after errors = %v, %v; want [3 4]", got, err)
	}
}

// The project's ONNX Runtime library has no GPU provider libraries beside it, so GPU providers cannot be
// had here: each one asked for is tried, logged as unavailable, and the session runs on the CPU.
func TestGPUProvidersFallBackToCPU(t *testing.T) {
	tests := []struct {
		provider string
		tried    []string
	}{
		{ProviderCUDA, []string{"cuda unavailable"}},
		{ProviderTensorRT, []string{"tensorrt unavailable", "cuda unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			var logs bytes.Buffer
			rt := newRuntime(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			s, err := rt.Open(tokenModel(t, false), SessionConfig{Pooling: PoolingCLS, Provider: tc.provider})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, want := range append(tc.tried, "running on CPU", "provider=cpu asked="+tc.provider) {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			if s.Provider() != ProviderCPU {
				t.Errorf("Provider() = %q, want cpu", s.Provider())
			}
			got, err := s.Embed(context.Background(), Batch{IDs: [][]int64{{2}}})
			if err != nil || !near(got, []float32{0, 2}) {
				t.Errorf("Embed = %v, %v; want [0 2]", got, err)
			}
		})
	}
}
