// Package hashbag is xling's own compact multilingual encoder: hashed character n-grams (see
// tokenizer/ngram) -> embedding bag (masked mean) -> linear projection -> L2 normalisation. It is written out
// as a real ONNX graph, with its tokenizer configuration in the model's metadata, so the encode stage runs
// it through ONNX Runtime exactly like any other model.
package hashbag

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"xling/tokenizer/ngram"
)

// Model holds the weights, row-major.
type Model struct {
	Name      string // written as the model file's "xling.model" metadata
	Tokenizer ngram.Config
	// QueryPrefix and PassagePrefix are prepended to texts before tokenizing (the roles the model was
	// trained with); written as metadata so the tokenize stage applies them.
	QueryPrefix, PassagePrefix string
	// TrainedOn names the evaluation datasets whose questions trained the model (for example "mlqa-r"), so
	// that a report on one of them can say it is in-sample; written as "xling.trained_on" metadata.
	TrainedOn []string
	Dim       int       // embedding-bag width D
	Out       int       // output embedding size O
	Embedding []float32 // [Tokenizer.Buckets x Dim]
	Proj      []float32 // [Dim x Out]
	Bias      []float32 // [Out]
}

// Metadata keys and values written into the model file.
const (
	MetaQueryPrefix   = "xling.query_prefix"
	MetaPassagePrefix = "xling.passage_prefix"
	MetaTokenizer     = "xling.tokenizer"
	MetaModel         = "xling.model"
	MetaPooling       = "xling.pooling"
	MetaNormalized    = "xling.normalized"
	MetaTrainedOn     = "xling.trained_on" // comma-separated dataset names

	// DefaultName is written as MetaModel when Model.Name is empty.
	DefaultName = "xling-hashbag"

	// DefaultDim is the embedding-bag width and output size of xling's default encoder (256 against 128
	// raised every validation score; docs/tuning.md).
	DefaultDim = 256
)

// NewRandom returns a model with deterministic random weights: embeddings uniform with unit
// variance, the projection uniform with variance 1/dim (so outputs keep the embeddings' scale) and
// a zero bias.
func NewRandom(cfg ngram.Config, dim, out int, seed uint64) *Model {
	r := rand.New(rand.NewPCG(seed, 0x68617368626167)) // "hashbag"
	uniform := func(dst []float32, std float64) {
		a := std * math.Sqrt(3)
		for i := range dst {
			dst[i] = float32((2*r.Float64() - 1) * a)
		}
	}
	m := &Model{
		Tokenizer: cfg,
		Dim:       dim,
		Out:       out,
		Embedding: make([]float32, cfg.Buckets*dim),
		Proj:      make([]float32, dim*out),
		Bias:      make([]float32, out),
	}
	uniform(m.Embedding, 1)
	uniform(m.Proj, 1/math.Sqrt(float64(dim)))
	return m
}

// Validate checks that the weights have the sizes the configuration implies.
func (m *Model) Validate() error {
	if err := m.Tokenizer.Validate(); err != nil {
		return err
	}
	switch {
	case m.Dim < 1 || m.Out < 1:
		return fmt.Errorf("hashbag: dim %d and out %d must be positive", m.Dim, m.Out)
	case len(m.Embedding) != m.Tokenizer.Buckets*m.Dim:
		return fmt.Errorf("hashbag: embedding has %d values, want %d x %d", len(m.Embedding), m.Tokenizer.Buckets, m.Dim)
	case len(m.Proj) != m.Dim*m.Out:
		return fmt.Errorf("hashbag: projection has %d values, want %d x %d", len(m.Proj), m.Dim, m.Out)
	case len(m.Bias) != m.Out:
		return fmt.Errorf("hashbag: bias has %d values, want %d", len(m.Bias), m.Out)
	}
	return nil
}

// Forward is the reference forward pass, the definition the ONNX graph and the trainers follow:
// pooled = mean of Embedding rows over the row's non-zero ids (0 is padding; no ids gives a zero
// vector), h = pooled·Proj + Bias, output h / max(||h||, 1e-12). Ids must lie in [0, Buckets).
func (m *Model) Forward(ids [][]int64) [][]float32 {
	out := make([][]float32, len(ids))
	pooled := make([]float32, m.Dim)
	for r, row := range ids {
		clear(pooled)
		n := 0
		for _, id := range row {
			if id == 0 {
				continue
			}
			n++
			for j, v := range m.Embedding[int(id)*m.Dim : (int(id)+1)*m.Dim] {
				pooled[j] += v
			}
		}
		if n > 0 {
			for j := range pooled {
				pooled[j] /= float32(n)
			}
		}
		h := slices.Clone(m.Bias)
		for i, p := range pooled {
			for j, w := range m.Proj[i*m.Out : (i+1)*m.Out] {
				h[j] += p * w
			}
		}
		var ss float64
		for _, v := range h {
			ss += float64(v) * float64(v)
		}
		norm := float32(max(math.Sqrt(ss), 1e-12))
		for j := range h {
			h[j] /= norm
		}
		out[r] = h
	}
	return out
}

// Clone returns a deep copy of m, so one trained phase can start several.
func (m *Model) Clone() *Model {
	c := *m
	c.Embedding, c.Proj, c.Bias = slices.Clone(m.Embedding), slices.Clone(m.Proj), slices.Clone(m.Bias)
	c.TrainedOn = slices.Clone(m.TrainedOn)
	return &c
}

// IdentityProjection sets the projection to the identity and the bias to zero, so the model is the
// normalised embedding bag alone (with a frozen projection in training). Dim and Out must be equal.
func (m *Model) IdentityProjection() error {
	if m.Dim != m.Out {
		return fmt.Errorf("hashbag: identity projection needs dim %d = out %d", m.Dim, m.Out)
	}
	clear(m.Proj)
	clear(m.Bias)
	for i := range m.Dim {
		m.Proj[i*m.Out+i] = 1
	}
	return nil
}
