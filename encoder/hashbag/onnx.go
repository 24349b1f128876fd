package hashbag

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"xling/encoder/onnxpb"
	"xling/tokenizer/ngram"
)

// Graph tensor names.
const (
	InputIDs      = "input_ids"
	AttentionMask = "attention_mask"
	Output        = "sentence_embedding"

	initEmbedding = "embedding"
	initProj      = "proj"
	initBias      = "bias"
)

// maxFileSize is protobuf's message limit, which bounds what ReadONNX will buffer.
const maxFileSize = 2 << 30

// Tokenizer types in the metadata. "ngram" is the per-word specification every xling version reads;
// "ngram2" marks a configuration that needs the options added later (span, unique), and "ngram3" one that
// romanizes, so that an older xling refuses the model instead of ignoring those fields.
const (
	typeNGram  = "ngram"
	typeNGram2 = "ngram2"
	typeNGram3 = "ngram3"
)

func tokenizerType(c ngram.Config) string {
	if c.Romanize {
		return typeNGram3
	}
	if (c.Span != "" && c.Span != ngram.SpanWord) || c.Unique {
		return typeNGram2
	}
	return typeNGram
}

// tokenizerMeta is the JSON of the "xling.tokenizer" metadata.
type tokenizerMeta struct {
	Type string `json:"type"`
	ngram.Config
}

// WriteONNX writes m as an ONNX model computing Forward: inputs input_ids and attention_mask (int64
// [batch, seq]), output sentence_embedding (float32 [batch, Out]), already pooled and normalised.
// A position counts when its mask is non-zero and its id is non-zero.
func (m *Model) WriteONNX(w io.Writer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	tok, err := json.Marshal(tokenizerMeta{Type: tokenizerType(m.Tokenizer), Config: m.Tokenizer})
	if err != nil {
		return fmt.Errorf("encode tokenizer metadata: %w", err)
	}
	name := m.Name
	if name == "" {
		name = DefaultName
	}
	node := func(op, out string, in []string, attrs ...onnxpb.Attribute) onnxpb.Node {
		return onnxpb.Node{Name: out, OpType: op, Inputs: in, Outputs: []string{out}, Attributes: attrs}
	}
	toFloat := onnxpb.Attribute{Name: "to", Type: onnxpb.AttrInt, I: int64(onnxpb.Float)}
	keepDims := onnxpb.Attribute{Name: "keepdims", Type: onnxpb.AttrInt, I: 1}
	ints := func(name string, dims []int64, v ...int64) onnxpb.Tensor {
		return onnxpb.Tensor{Name: name, Dims: dims, DataType: onnxpb.Int64, Int64: v}
	}
	scalar := func(name string, v float32) onnxpb.Tensor {
		return onnxpb.Tensor{Name: name, DataType: onnxpb.Float, Float32: []float32{v}}
	}
	seq := []onnxpb.Dim{{Param: "batch"}, {Param: "seq"}}
	var extra []onnxpb.StringEntry // optional metadata
	if m.QueryPrefix != "" || m.PassagePrefix != "" {
		extra = []onnxpb.StringEntry{{Key: MetaQueryPrefix, Value: m.QueryPrefix}, {Key: MetaPassagePrefix, Value: m.PassagePrefix}}
	}
	if len(m.TrainedOn) > 0 {
		extra = append(extra, onnxpb.StringEntry{Key: MetaTrainedOn, Value: strings.Join(m.TrainedOn, ",")})
	}
	model := onnxpb.Model{
		IRVersion:    onnxpb.IRVersion,
		ProducerName: "xling",
		Opsets:       []onnxpb.OpsetID{{Version: onnxpb.OpsetVersion}},
		Metadata: append([]onnxpb.StringEntry{
			{Key: MetaTokenizer, Value: string(tok)},
			{Key: MetaModel, Value: name},
			{Key: MetaPooling, Value: "none"},
			{Key: MetaNormalized, Value: "true"},
		}, extra...),
		Graph: onnxpb.Graph{
			Name: "hashbag",
			Nodes: []onnxpb.Node{
				node("Greater", "is_token", []string{InputIDs, "zero_id"}),
				node("Cast", "token_f", []string{"is_token"}, toFloat),
				node("Cast", "mask_f", []string{AttentionMask}, toFloat),
				node("Mul", "weight", []string{"mask_f", "token_f"}),
				node("Unsqueeze", "weight3", []string{"weight", "axis1"}),
				node("Gather", "rows", []string{initEmbedding, InputIDs}),
				// [batch, 1, seq] x [batch, seq, dim]: one pass over the gathered rows, with no
				// weighted copy of them as Mul then ReduceSum would make.
				node("MatMul", "summed3", []string{"weight3", "rows"}),
				node("Squeeze", "summed", []string{"summed3", "axis1"}),
				node("ReduceSum", "count", []string{"weight", "axis1"}, keepDims),
				node("Max", "count1", []string{"count", "one"}),
				node("Div", "pooled", []string{"summed", "count1"}),
				node("MatMul", "projected", []string{"pooled", initProj}),
				node("Add", "h", []string{"projected", initBias}),
				node("ReduceL2", "norm", []string{"h"},
					onnxpb.Attribute{Name: "axes", Type: onnxpb.AttrInts, Ints: []int64{1}}, keepDims),
				node("Max", "norm_eps", []string{"norm", "eps"}),
				node("Div", Output, []string{"h", "norm_eps"}),
			},
			Initializers: []onnxpb.Tensor{
				{Name: initEmbedding, Dims: []int64{int64(m.Tokenizer.Buckets), int64(m.Dim)}, DataType: onnxpb.Float, Float32: m.Embedding},
				{Name: initProj, Dims: []int64{int64(m.Dim), int64(m.Out)}, DataType: onnxpb.Float, Float32: m.Proj},
				{Name: initBias, Dims: []int64{int64(m.Out)}, DataType: onnxpb.Float, Float32: m.Bias},
				ints("zero_id", nil, 0),
				ints("axis1", []int64{1}, 1),
				scalar("one", 1),
				scalar("eps", 1e-12),
			},
			Inputs: []onnxpb.ValueInfo{
				{Name: InputIDs, ElemType: onnxpb.Int64, Shape: seq},
				{Name: AttentionMask, ElemType: onnxpb.Int64, Shape: seq},
			},
			Outputs: []onnxpb.ValueInfo{
				{Name: Output, ElemType: onnxpb.Float, Shape: []onnxpb.Dim{{Param: "batch"}, {Value: int64(m.Out)}}},
			},
		},
	}
	if _, err := w.Write(model.Marshal()); err != nil {
		return fmt.Errorf("write hashbag model: %w", err)
	}
	return nil
}

// ReadONNX reads a model written by WriteONNX (or re-saved by other ONNX tools) back into weights.
func ReadONNX(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read hashbag model: %w", err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("read hashbag model: larger than %d bytes", maxFileSize)
	}
	pm, err := onnxpb.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("read hashbag model: %w", err)
	}
	meta := map[string]string{}
	for _, e := range pm.Metadata {
		meta[e.Key] = e.Value
	}
	cfg, err := TokenizerConfig(meta)
	if err != nil {
		return nil, fmt.Errorf("read hashbag model: %w", err)
	}
	inits := map[string]onnxpb.Tensor{}
	for _, t := range pm.Graph.Initializers {
		inits[t.Name] = t
	}
	weights := func(name string, rank int) ([]float32, []int64, error) {
		t, ok := inits[name]
		if !ok || t.DataType != onnxpb.Float || len(t.Dims) != rank {
			return nil, nil, fmt.Errorf("read hashbag model: no float initializer %q of rank %d", name, rank)
		}
		return t.Float32, t.Dims, nil
	}
	m := &Model{Name: meta[MetaModel], Tokenizer: cfg, QueryPrefix: meta[MetaQueryPrefix], PassagePrefix: meta[MetaPassagePrefix],
		TrainedOn: TrainedOn(meta)}
	var emb, proj []int64
	if m.Embedding, emb, err = weights(initEmbedding, 2); err != nil {
		return nil, err
	}
	if m.Proj, proj, err = weights(initProj, 2); err != nil {
		return nil, err
	}
	if m.Bias, _, err = weights(initBias, 1); err != nil {
		return nil, err
	}
	m.Dim, m.Out = int(emb[1]), int(proj[1])
	if emb[0] != int64(m.Tokenizer.Buckets) || proj[0] != emb[1] {
		return nil, fmt.Errorf("read hashbag model: embedding %v and projection %v disagree with %d buckets",
			emb, proj, m.Tokenizer.Buckets)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("read hashbag model: %w", err)
	}
	return m, nil
}

// TokenizerConfig returns the tokenizer configuration stored in a model's metadata (as returned by
// ort.Session.Metadata), so the encode stage can tokenize for the model it runs.
func TokenizerConfig(meta map[string]string) (ngram.Config, error) {
	raw, ok := meta[MetaTokenizer]
	if !ok {
		return ngram.Config{}, fmt.Errorf("no %q metadata", MetaTokenizer)
	}
	var tok tokenizerMeta
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		return ngram.Config{}, fmt.Errorf("metadata %q: %w", MetaTokenizer, err)
	}
	if tok.Type != typeNGram && tok.Type != typeNGram2 && tok.Type != typeNGram3 {
		return ngram.Config{}, fmt.Errorf("metadata %q: tokenizer type %q, want %q, %q or %q", MetaTokenizer, tok.Type, typeNGram, typeNGram2, typeNGram3)
	}
	if err := tok.Validate(); err != nil {
		return ngram.Config{}, fmt.Errorf("metadata %q: %w", MetaTokenizer, err)
	}
	return tok.Config, nil
}

// TrainedOn returns the datasets a model's metadata (as returned by ort.Session.Metadata) says trained it.
func TrainedOn(meta map[string]string) []string {
	var out []string
	for _, d := range strings.Split(meta[MetaTrainedOn], ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}
