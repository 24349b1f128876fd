package onnxpb

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"xling/internal/testenv"
)

// testModel is y = Unsqueeze(x + w, axes) with every kind of field the encoder writes.
func testModel() *Model {
	return &Model{
		IRVersion:    IRVersion,
		ProducerName: "xling-test",
		Opsets:       []OpsetID{{Version: OpsetVersion}},
		Metadata:     []StringEntry{{"k", "v"}, {"xling.tokenizer", `{"type":"ngram"}`}},
		Graph: Graph{
			Name: "g",
			Nodes: []Node{
				{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"s"}},
				{Name: "unsq", OpType: "Unsqueeze", Inputs: []string{"s", "axes"}, Outputs: []string{"u"}},
				{Name: "clip", OpType: "LeakyRelu", Inputs: []string{"u"}, Outputs: []string{"l"},
					Attributes: []Attribute{{Name: "alpha", Type: AttrFloat, F: 0.25}}},
				{Name: "sum", OpType: "ReduceL2", Inputs: []string{"l"}, Outputs: []string{"y"},
					Attributes: []Attribute{{Name: "axes", Type: AttrInts, Ints: []int64{-1}},
						{Name: "keepdims", Type: AttrInt, I: 0}}},
			},
			Initializers: []Tensor{
				{Name: "w", Dims: []int64{3}, DataType: Float, Float32: []float32{1.5, -2, float32(math.Pi)}},
				{Name: "axes", Dims: []int64{1}, DataType: Int64, Int64: []int64{-1}},
			},
			Inputs:  []ValueInfo{{Name: "x", ElemType: Float, Shape: []Dim{{Param: "batch"}, {Value: 3}}}},
			Outputs: []ValueInfo{{Name: "y", ElemType: Float, Shape: []Dim{{Param: "batch"}, {Value: 3}}}},
		},
	}
}

func TestMarshalIsReadByPythonONNX(t *testing.T) {
	py := testenv.RequirePython(t, "onnx")
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, testModel().Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, filepath.Join("testdata", "read_model.py"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("python onnx rejected the model: %v\n%s", err, out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode read_model.py output: %v\n%s", err, out)
	}
	want := map[string]any{
		"ir_version":    8.0,
		"producer_name": "xling-test",
		"opsets":        []any{[]any{"", 17.0}},
		"metadata":      map[string]any{"k": "v", "xling.tokenizer": `{"type":"ngram"}`},
		"graph_name":    "g",
		"nodes": []any{
			map[string]any{"op": "Add", "name": "add", "inputs": []any{"x", "w"}, "outputs": []any{"s"}, "attrs": map[string]any{}},
			map[string]any{"op": "Unsqueeze", "name": "unsq", "inputs": []any{"s", "axes"}, "outputs": []any{"u"}, "attrs": map[string]any{}},
			map[string]any{"op": "LeakyRelu", "name": "clip", "inputs": []any{"u"}, "outputs": []any{"l"}, "attrs": map[string]any{"alpha": 0.25}},
			map[string]any{"op": "ReduceL2", "name": "sum", "inputs": []any{"l"}, "outputs": []any{"y"},
				"attrs": map[string]any{"axes": []any{-1.0}, "keepdims": 0.0}},
		},
		"initializers": map[string]any{
			"w":    map[string]any{"dims": []any{3.0}, "type": 1.0, "values": []any{1.5, -2.0, float64(float32(math.Pi))}},
			"axes": map[string]any{"dims": []any{1.0}, "type": 7.0, "values": []any{-1.0}},
		},
		"inputs":  []any{[]any{"x", 1.0, []any{"batch", 3.0}}},
		"outputs": []any{[]any{"y", 1.0, []any{"batch", 3.0}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("python onnx read\n %v\nwant\n %v", got, want)
	}
}

func TestUnmarshalReadsPythonONNXModel(t *testing.T) {
	py := testenv.RequirePython(t, "onnx")
	path := filepath.Join(t.TempDir(), "m.onnx")
	if out, err := exec.Command(py, filepath.Join("testdata", "write_model.py"), path).CombinedOutput(); err != nil {
		t.Fatalf("write_model.py: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 8 || !reflect.DeepEqual(m.Opsets, []OpsetID{{Version: 17}}) || m.Graph.Name != "g" {
		t.Errorf("header: ir %d opsets %v graph %q", m.IRVersion, m.Opsets, m.Graph.Name)
	}
	if want := []StringEntry{{"a", "1"}, {"xling.model", "ünï"}}; !reflect.DeepEqual(m.Metadata, want) {
		t.Errorf("metadata = %v, want %v", m.Metadata, want)
	}
	want := []Tensor{
		{Name: "w", Dims: []int64{2, 3}, DataType: Float, Float32: []float32{0.5, -1.25, 3.0, 1e-8, 2.5e7, float32(math.Copysign(0, -1))}},
		{Name: "k", Dims: []int64{3}, DataType: Int64, Int64: []int64{1, -2, 1 << 40}},
		{Name: "r", Dims: []int64{2}, DataType: Float, Float32: []float32{7, 8}},
	}
	if !reflect.DeepEqual(m.Graph.Initializers, want) {
		t.Errorf("initializers = %+v, want %+v", m.Graph.Initializers, want)
	}
}

func TestUnmarshalRoundTripsMarshal(t *testing.T) {
	in := testModel()
	got, err := Unmarshal(in.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	// The decoder keeps only what a checkpoint needs from the graph.
	want := *in
	want.Graph = Graph{Name: in.Graph.Name, Initializers: in.Graph.Initializers}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("round trip\n %+v\nwant\n %+v", *got, want)
	}
}

func TestUnmarshalRejectsCorruptData(t *testing.T) {
	good := testModel().Marshal()
	bad := testModel()
	bad.Graph.Initializers[0].Dims = []int64{4} // 3 floats for 4 elements
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)-5]},
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"data does not match dims", bad.Marshal()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Unmarshal(tt.data); err == nil {
				t.Error("Unmarshal succeeded, want error")
			}
		})
	}
}
