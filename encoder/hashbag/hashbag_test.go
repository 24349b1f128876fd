package hashbag

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"xling/encoder/ort"
	"xling/internal/testenv"
	"xling/tokenizer/ngram"
)

// candidates returns up to n candidate sentences per language from XQuAD-R.
func candidates(t testing.TB, n int) []string { return testenv.Sentences(t, n) }

func tokenize(t testing.TB, cfg ngram.Config, texts []string) [][]int64 {
	t.Helper()
	tok, err := ngram.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][]int64, len(texts))
	for i, s := range texts {
		ids[i], _ = tok.Encode(s)
	}
	return ids
}

func testModel(t testing.TB) *Model {
	t.Helper()
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1 << 12
	m := NewRandom(cfg, 32, 24, 42)
	m.Name = "test-hashbag"
	for i := range m.Bias {
		m.Bias[i] = 0.01 * float32(i%5)
	}
	return m
}

func writeFile(t testing.TB, m *Model) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hashbag.onnx")
	var buf bytes.Buffer
	if err := m.WriteONNX(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func maxDiff(t *testing.T, got []float32, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	return testenv.MaxDiff(got, want)
}

func TestForwardHandWorked(t *testing.T) {
	m := &Model{
		Tokenizer: ngram.Config{Buckets: 4, MinN: 1, MaxN: 1, MaxTokens: 8},
		Dim:       2, Out: 2,
		Embedding: []float32{9, 9, 1, 0, 3, 4, 0, 2},
		Proj:      []float32{1, 0, 0, 1},
		Bias:      []float32{0, 0},
	}
	tests := []struct {
		name string
		ids  []int64
		want []float32
	}{
		{"one row", []int64{2}, []float32{0.6, 0.8}},
		// mean of rows 1 and 3 is (0.5, 1), of norm sqrt(1.25)
		{"mean skips padding", []int64{1, 0, 3, 0}, []float32{float32(0.5 / math.Sqrt(1.25)), float32(1 / math.Sqrt(1.25))}},
		{"empty row is zero", nil, []float32{0, 0}},
		{"only padding is zero", []int64{0, 0}, []float32{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Forward([][]int64{tt.ids})[0]
			for j := range got {
				if !testenv.Close(float64(got[j]), float64(tt.want[j]), 1e-6) {
					t.Fatalf("Forward(%v) = %v, want %v", tt.ids, got, tt.want)
				}
			}
		})
	}
}

func TestNewRandomIsDeterministic(t *testing.T) {
	cfg := ngram.Config{Buckets: 100, MinN: 1, MaxN: 2, MaxTokens: 10}
	a, b, c := NewRandom(cfg, 8, 4, 1), NewRandom(cfg, 8, 4, 1), NewRandom(cfg, 8, 4, 2)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different models")
	}
	if reflect.DeepEqual(a.Embedding, c.Embedding) {
		t.Error("different seeds gave the same embedding")
	}
	if err := a.Validate(); err != nil {
		t.Error(err)
	}
	var ss float64
	for _, v := range a.Embedding {
		ss += float64(v) * float64(v)
	}
	if v := ss / float64(len(a.Embedding)); !(v >= 0.7 && v <= 1.3) {
		t.Errorf("embedding variance %.3f, want about 1", v)
	}
}

func TestONNXMatchesNumpyReference(t *testing.T) {
	py := testenv.RequirePython(t, "numpy", "onnx")
	m := testModel(t)
	ids := append(tokenize(t, m.Tokenizer, candidates(t, 5)), []int64{}, []int64{0, 0})
	req, err := json.Marshal(map[string]any{"ids": ids})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "hashbag_ref.py"), writeFile(t, m))
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("numpy reference: %v\n%s", err, stderr.String())
	}
	var ref struct {
		Metadata   map[string]string
		Embeddings [][]float64
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	wantMeta := map[string]string{
		"xling.tokenizer":  `{"type":"ngram3","buckets":4096,"min_n":1,"max_n":4,"max_tokens":2048,"seed":517214924391,"span":"text","romanize":true}`,
		"xling.model":      "test-hashbag",
		"xling.pooling":    "none",
		"xling.normalized": "true",
	}
	if !reflect.DeepEqual(ref.Metadata, wantMeta) {
		t.Errorf("metadata = %v, want %v", ref.Metadata, wantMeta)
	}
	got := m.Forward(ids)
	worst := 0.0
	for i := range ids {
		worst = max(worst, maxDiff(t, got[i], ref.Embeddings[i]))
	}
	if !(worst <= 1e-5) {
		t.Errorf("Forward differs from numpy by %g", worst)
	}
	t.Logf("%d rows, max |Forward - numpy| = %.2g", len(ids), worst)
}

func TestONNXRuntimeMatchesForward(t *testing.T) {
	rt, err := ort.NewRuntime(testenv.ORTLibrary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	m := testModel(t)
	s, err := rt.Open(writeFile(t, m), ort.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dim() != m.Out || s.Metadata()[MetaModel] != "test-hashbag" {
		t.Errorf("Dim() = %d, metadata %v", s.Dim(), s.Metadata())
	}
	if cfg, err := TokenizerConfig(s.Metadata()); err != nil || cfg != m.Tokenizer {
		t.Errorf("TokenizerConfig(session metadata) = %+v, %v; want %+v", cfg, err, m.Tokenizer)
	}
	ids := append(tokenize(t, m.Tokenizer, candidates(t, 10)), nil)
	got, err := s.Embed(context.Background(), ort.Batch{IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	want := m.Forward(ids)
	worst := 0.0
	for i := range ids {
		worst = max(worst, testenv.MaxDiff(got[i*m.Out:(i+1)*m.Out], want[i])) // NaN stays NaN
	}
	if !(worst <= 1e-5) {
		t.Errorf("ONNX Runtime differs from Forward by %g", worst)
	}
	t.Logf("%d rows, max |ORT - Forward| = %.2g", len(ids), worst)
}

func TestReadONNXRoundTripsWeights(t *testing.T) {
	m := testModel(t)
	m.QueryPrefix, m.PassagePrefix = "query: ", "passage: "
	var buf bytes.Buffer
	if err := m.WriteONNX(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadONNX(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// DeepEqual on float32 slices compares bits for every non-NaN value.
	if !reflect.DeepEqual(got, m) {
		t.Error("ReadONNX(WriteONNX(m)) differs from m")
	}
}

func TestReadONNXRejectsMismatchedFiles(t *testing.T) {
	good := testModel(t)
	tests := []struct {
		name    string
		data    func() []byte
		wantErr string
	}{
		{"not onnx", func() []byte { return []byte("hello") }, "decode"},
		{"wrong tokenizer buckets", func() []byte {
			m := *good
			var buf bytes.Buffer
			if err := m.WriteONNX(&buf); err != nil {
				t.Fatal(err)
			}
			return bytes.Replace(buf.Bytes(), []byte(`"buckets":4096`), []byte(`"buckets":4097`), 1)
		}, "buckets"},
		{"unknown tokenizer type", func() []byte {
			var buf bytes.Buffer
			if err := good.WriteONNX(&buf); err != nil {
				t.Fatal(err)
			}
			return bytes.Replace(buf.Bytes(), []byte(`"type":"ngram3"`), []byte(`"type":"bpe012"`), 1)
		}, "bpe012"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadONNX(bytes.NewReader(tt.data()))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ReadONNX error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestWriteONNXRejectsInconsistentModel(t *testing.T) {
	m := testModel(t)
	m.Proj = m.Proj[1:]
	if err := m.WriteONNX(&bytes.Buffer{}); err == nil {
		t.Error("WriteONNX succeeded with a short projection")
	}
}

// BenchmarkORTEmbed measures tokenize + embed through ONNX Runtime of XQuAD-R candidate sentences,
// with the default tokenizer and a model of the default size (DefaultDim -> DefaultDim), in batches of 64.
func BenchmarkORTEmbed(b *testing.B) {
	texts := candidates(b, 200)
	m := NewRandom(ngram.DefaultConfig(), DefaultDim, DefaultDim, 1)
	rt, err := ort.NewRuntime(testenv.ORTLibrary(b))
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	s, err := rt.Open(writeFile(b, m), ort.SessionConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, err := ngram.New(m.Tokenizer)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 64
	ids := make([][]int64, batch)
	n := 0
	for b.Loop() {
		for start := 0; start < len(texts); start += batch {
			rows := ids[:min(batch, len(texts)-start)]
			for i := range rows {
				rows[i], _ = tok.Append(rows[i][:0], texts[start+i])
			}
			if _, err := s.Embed(context.Background(), ort.Batch{IDs: rows}); err != nil {
				b.Fatal(fmt.Errorf("embed: %w", err))
			}
			n += len(rows)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "texts/s")
}

// With the identity projection the model is the normalised mean of its rows, worked by hand: rows (3, 4)
// and (0, 0) average to (1.5, 2), whose norm is 2.5.
func TestIdentityProjectionIsTheBag(t *testing.T) {
	m := &Model{Tokenizer: ngram.Config{Buckets: 3, MinN: 1, MaxN: 1, MaxTokens: 8}, Dim: 2, Out: 2,
		Embedding: []float32{9, 9, 3, 4, 0, 0}, Proj: []float32{5, 6, 7, 8}, Bias: []float32{1, 1}}
	if err := m.IdentityProjection(); err != nil {
		t.Fatal(err)
	}
	got := m.Forward([][]int64{{1, 2}})[0]
	if !(math.Abs(float64(got[0])-0.6) <= 1e-6 && math.Abs(float64(got[1])-0.8) <= 1e-6) {
		t.Errorf("Forward = %v, want (0.6, 0.8)", got)
	}
	m.Out, m.Proj, m.Bias = 3, make([]float32, 6), make([]float32, 3)
	if err := m.IdentityProjection(); err == nil {
		t.Error("identity of a 2 x 3 projection: no error")
	}
}

// A per-word configuration keeps the type every xling reads; a whole-text span or unique ids write
// "ngram2" and romanization "ngram3", which older versions refuse rather than tokenize otherwise; all
// read back.
func TestTokenizerTypeMarksNewOptions(t *testing.T) {
	for _, c := range []struct {
		span             string
		unique, romanize bool
		want             string
	}{
		{"", false, false, `"type":"ngram"`},
		{ngram.SpanWord, false, false, `"type":"ngram"`},
		{ngram.SpanText, false, false, `"type":"ngram2"`},
		{ngram.SpanWord, true, false, `"type":"ngram2"`},
		{ngram.SpanText, false, true, `"type":"ngram3"`},
		{ngram.SpanWord, false, true, `"type":"ngram3"`},
	} {
		cfg := ngram.Config{Buckets: 16, MinN: 1, MaxN: 2, MaxTokens: 8, Span: c.span, Unique: c.unique, Romanize: c.romanize}
		var buf bytes.Buffer
		if err := NewRandom(cfg, 2, 2, 1).WriteONNX(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(buf.Bytes(), []byte(c.want+",")) {
			t.Errorf("span %q unique %v romanize %v: metadata lacks %s", c.span, c.unique, c.romanize, c.want)
		}
		m, err := ReadONNX(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if m.Tokenizer != cfg {
			t.Errorf("read back %+v, want %+v", m.Tokenizer, cfg)
		}
	}
}

func TestTrainedOnRoundTrips(t *testing.T) {
	for _, trainedOn := range [][]string{nil, {"mlqa-r"}, {"mlqa-r", "xquad-r"}} {
		m := NewRandom(ngram.Config{Buckets: 16, MinN: 1, MaxN: 2, MaxTokens: 8}, 2, 2, 1)
		m.TrainedOn = trainedOn
		var buf bytes.Buffer
		if err := m.WriteONNX(&buf); err != nil {
			t.Fatal(err)
		}
		if has := bytes.Contains(buf.Bytes(), []byte(MetaTrainedOn)); has != (len(trainedOn) > 0) {
			t.Errorf("trained on %v: metadata key present %v", trainedOn, has)
		}
		back, err := ReadONNX(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back.TrainedOn, trainedOn) {
			t.Errorf("read back trained on %v, want %v", back.TrainedOn, trainedOn)
		}
	}
	if got := TrainedOn(map[string]string{MetaTrainedOn: " mlqa-r, ,xquad-r "}); !slices.Equal(got, []string{"mlqa-r", "xquad-r"}) {
		t.Errorf("TrainedOn = %v", got)
	}
}
