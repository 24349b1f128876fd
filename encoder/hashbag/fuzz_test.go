package hashbag

import (
	"bytes"
	"testing"

	"xling/tokenizer/ngram"
)

// FuzzReadONNX reads arbitrary bytes as a hashbag model file. A model that reads must be valid, run its
// forward pass on any in-range ids without panicking, give one vector of Out values per row, and write
// out to a file that reads back to the same bytes.
func FuzzReadONNX(f *testing.F) {
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 16
	for _, dims := range [][2]int{{4, 3}, {2, 2}} {
		m := NewRandom(cfg, dims[0], dims[1], 7)
		m.Name, m.QueryPrefix = "fuzz", "query: "
		var buf bytes.Buffer
		if err := m.WriteONNX(&buf); err != nil {
			f.Fatal(err)
		}
		if _, err := ReadONNX(bytes.NewReader(buf.Bytes())); err != nil {
			f.Fatalf("seed %v: %v", dims, err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadONNX(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ReadONNX gave an invalid model: %v", err)
		}
		b := int64(m.Tokenizer.Buckets)
		out := m.Forward([][]int64{{0, 1, b - 1}, {}})
		if len(out) != 2 || len(out[0]) != m.Out || len(out[1]) != m.Out {
			t.Fatalf("forward: %d rows, want 2 of %d", len(out), m.Out)
		}
		var enc bytes.Buffer
		if err := m.WriteONNX(&enc); err != nil {
			t.Fatalf("write a model it read: %v", err)
		}
		again, err := ReadONNX(bytes.NewReader(enc.Bytes()))
		if err != nil {
			t.Fatalf("read back a model it wrote: %v", err)
		}
		var enc2 bytes.Buffer
		if err := again.WriteONNX(&enc2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc.Bytes(), enc2.Bytes()) {
			t.Fatal("WriteONNX(ReadONNX(WriteONNX(m))) != WriteONNX(m)")
		}
	})
}
