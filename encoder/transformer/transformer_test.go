package transformer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"xling/encoder/ort"

	"xling/internal/testenv"
)

// XLM-R's special tokens: <s> opens a row, </s> closes it, ids below 3 are never words.
const (
	bos = 0
	eos = 2
)

// randomRows makes rows of the given lengths (special tokens included) with ids drawn from vocab;
// with types, each row's second half is segment 1, as in a question–passage pair.
func randomRows(seed uint64, vocab int, lengths []int, types bool) []row {
	rng := rand.New(rand.NewPCG(seed, 0))
	rows := make([]row, len(lengths))
	for i, n := range lengths {
		ids := make([]int64, n)
		for j := range ids {
			ids[j] = int64(3 + rng.IntN(vocab-3))
		}
		ids[0], ids[n-1] = bos, eos
		rows[i].IDs = ids
		if types {
			rows[i].TypeIDs = make([]int64, n)
			for j := n / 2; j < n; j++ {
				rows[i].TypeIDs[j] = 1
			}
		}
	}
	return rows
}

func batchOf(rows []row) ort.Batch {
	var b ort.Batch
	for _, r := range rows {
		b.IDs = append(b.IDs, r.IDs)
		if r.TypeIDs != nil {
			b.TypeIDs = append(b.TypeIDs, r.TypeIDs)
		}
	}
	return b
}

// maxDiff is the largest absolute difference between got (rows x dim, flat) and want.
func maxDiff(t *testing.T, got []float32, want [][]float32) float64 {
	t.Helper()
	if len(want) == 0 || len(got) != len(want)*len(want[0]) {
		t.Fatalf("got %d values, want %d rows of %d", len(got), len(want), len(want[0]))
	}
	// The built-in max is NaN when either argument is, so a NaN anywhere makes d NaN.
	var d float64
	for i, w := range want {
		d = max(d, testenv.MaxDiff(got[i*len(w):(i+1)*len(w)], w))
	}
	return d
}

// pick returns the embeddings of one pooling; a pooled-output model's are under mean.
func (r reference) pick(cls, norm bool) [][]float32 {
	switch {
	case cls && norm:
		return r.CLSNorm
	case cls:
		return r.CLS
	case norm:
		return r.MeanNorm
	}
	return r.Mean
}

func TestEmbeddingsEqualPyTorch(t *testing.T) {
	noTypes := tiny
	noTypes.TypeVocab = 0
	int32s := tiny
	int32s.Int32 = true
	int32sNoTypes := noTypes
	int32sNoTypes.Int32 = true
	pooled := tiny
	pooled.Pooled = true
	models := []struct {
		name string
		cfg  config
	}{
		{"int64 with token types", tiny},
		{"int32 with token types", int32s},
		{"int64 without token types", noTypes},
		{"int32 without token types", int32sNoTypes},
		{"pooled output", pooled},
	}
	// Ragged on purpose: the runner pads each batch to its longest row. A row of 2 holds only the
	// special tokens; one is as long as the model allows.
	lengths := []int{12, 3, 40, 2, tiny.maxLen(), 7, 25, 2, 18}
	jobs := make([]job, len(models))
	for i, m := range models {
		rows := randomRows(uint64(i)+10, m.cfg.Vocab, lengths, false)
		if m.cfg.TypeVocab > 0 {
			rows = append(randomRows(uint64(i)+10, m.cfg.Vocab, lengths, true), rows...)
		}
		jobs[i] = job{Config: m.cfg, ONNX: modelPath(t, "tiny", m.cfg), Rows: rows}
	}
	refs := runExport(t, jobs)

	rt := newRuntime(t)
	for i, m := range models {
		poolings := []string{ort.PoolingMean, ort.PoolingCLS}
		if m.cfg.Pooled {
			poolings = []string{ort.PoolingNone}
		}
		for _, pooling := range poolings {
			for _, norm := range []bool{false, true} {
				s := open(t, rt, jobs[i].ONNX, ort.SessionConfig{Pooling: pooling, Normalize: norm, IntraOpThreads: 1})
				if s.Dim() != m.cfg.Hidden {
					t.Errorf("%s: Dim() = %d, want %d", m.name, s.Dim(), m.cfg.Hidden)
				}
				want := refs[i].pick(pooling == ort.PoolingCLS, norm)
				// Rows with token types come first in the job, then the same ids without.
				for start := 0; start < len(jobs[i].Rows); start += len(lengths) {
					rows := jobs[i].Rows[start : start+len(lengths)]
					name := fmt.Sprintf("%s/%s/normalize=%v/types=%v", m.name, pooling, norm, rows[0].TypeIDs != nil)
					t.Run(name, func(t *testing.T) {
						got, err := s.Embed(context.Background(), batchOf(rows))
						if err != nil {
							t.Fatal(err)
						}
						if d := maxDiff(t, got, want[start:start+len(lengths)]); !(d <= 1e-4) {
							t.Errorf("max |xling - torch| = %g, want <= 1e-4", d)
						}
					})
				}
			}
		}
	}
}

// Real shapes, the benchmarks' models: twelve layers of float32 error must still stay within 1e-4 of
// PyTorch, for ragged batches up to the 512-token position table.
func TestRealShapeEmbeddingsEqualPyTorch(t *testing.T) {
	lengths := []int{512, 9, 130, 2, 64}
	rt := newRuntime(t)
	for _, m := range []struct {
		name string
		cfg  config
	}{{"minilm", miniLM}, {"base", base}} {
		t.Run(m.name, func(t *testing.T) {
			j := job{Config: m.cfg, ONNX: modelPath(t, m.name, m.cfg), Rows: randomRows(30, m.cfg.Vocab, lengths, false)}
			ref := runExport(t, []job{j})[0]
			s := open(t, rt, j.ONNX, ort.SessionConfig{Pooling: ort.PoolingMean, Normalize: true, IntraOpThreads: 2})
			got, err := s.Embed(context.Background(), batchOf(j.Rows))
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, got, ref.MeanNorm); !(d <= 1e-4) {
				t.Errorf("max |xling - torch| = %g, want <= 1e-4", d)
			}
		})
	}
}

// A row with no tokens at all (a tokenizer that adds no special tokens, given ""): mean pooling
// has nothing to average and gives a zero vector, which stays zero when normalised.
func TestEmptyRowMeanPoolsToZero(t *testing.T) {
	path := model(t, "tiny", tiny)
	rt := newRuntime(t)
	s := open(t, rt, path, ort.SessionConfig{Pooling: ort.PoolingMean, Normalize: true, IntraOpThreads: 1})
	got, err := s.Embed(context.Background(), ort.Batch{IDs: [][]int64{{bos, 7, 8, eos}, {}}})
	if err != nil {
		t.Fatal(err)
	}
	for j, v := range got[s.Dim():] {
		if v != 0 {
			t.Fatalf("empty row value %d = %g, want 0", j, v)
		}
	}
}

// The runner does not truncate: a row longer than the model's position table fails in ONNX
// Runtime, with an error naming the model, and the session keeps working. Truncation is the
// tokenizer's job (max length in the model config).
func TestRowOverMaxLengthFails(t *testing.T) {
	path := model(t, "tiny", tiny)
	rt := newRuntime(t)
	s := open(t, rt, path, ort.SessionConfig{Pooling: ort.PoolingMean, IntraOpThreads: 1})
	long := randomRows(1, tiny.Vocab, []int{tiny.maxLen() + 1}, false)
	_, err := s.Embed(context.Background(), batchOf(long))
	if err == nil {
		t.Fatalf("Embed of %d tokens (max %d) succeeded, want error", tiny.maxLen()+1, tiny.maxLen())
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the model %s", err, path)
	}
	t.Logf("over-length row: %v", err)
	ok := randomRows(1, tiny.Vocab, []int{tiny.maxLen()}, false)
	if _, err := s.Embed(context.Background(), batchOf(ok)); err != nil {
		t.Errorf("Embed of %d tokens after the failure: %v", tiny.maxLen(), err)
	}
}

func TestOpenRejectsMismatchedModels(t *testing.T) {
	renamedInput := tiny
	renamedInput.Rename = map[string]string{"input_ids": "ids"}
	renamedMask := tiny
	renamedMask.Rename = map[string]string{"attention_mask": "mask"}
	pooled := tiny
	pooled.Pooled = true
	tests := []struct {
		name    string
		cfg     config
		session ort.SessionConfig
		tensor  string // the tensor the error must name
	}{
		{"input_ids under another name", renamedInput, ort.SessionConfig{Pooling: ort.PoolingMean}, "ids"},
		{"attention_mask under another name", renamedMask, ort.SessionConfig{Pooling: ort.PoolingMean}, "mask"},
		{"per-token output without pooling", tiny, ort.SessionConfig{}, "last_hidden_state"},
		{"pooled output with mean pooling", pooled, ort.SessionConfig{Pooling: ort.PoolingMean}, "sentence_embedding"},
	}
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := model(t, "tiny", tt.cfg)
			s, err := rt.Open(path, tt.session)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.tensor) {
				t.Errorf("error %q does not name %s and tensor %s", err, path, tt.tensor)
			}
		})
	}
}
