package onnxpb

import (
	"bytes"
	"testing"
)

// FuzzUnmarshal reads arbitrary bytes as an ONNX model. A model that reads holds no more tensor
// elements than the input had bytes (each takes at least one), and writing it out and reading that
// back must give the same bytes: Marshal(Unmarshal(Marshal(m))) == Marshal(m).
func FuzzUnmarshal(f *testing.F) {
	f.Add(testModel().Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		elems := 0
		for _, tn := range m.Graph.Initializers {
			elems += len(tn.Float32) + len(tn.Int64)
		}
		if elems > len(data) {
			t.Fatalf("%d tensor elements from %d bytes", elems, len(data))
		}
		enc := m.Marshal()
		again, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("read back a model it wrote: %v", err)
		}
		if !bytes.Equal(again.Marshal(), enc) {
			t.Fatal("Marshal(Unmarshal(Marshal(m))) != Marshal(m)")
		}
	})
}
