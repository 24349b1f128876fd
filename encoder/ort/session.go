package ort

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	onnx "github.com/yalue/onnxruntime_go"
)

// Input and output tensor names the runner understands.
const (
	InputIDs      = "input_ids"
	AttentionMask = "attention_mask"
	TokenTypeIDs  = "token_type_ids"

	OutputPooled = "sentence_embedding" // [batch, dim]
	OutputTokens = "last_hidden_state"  // [batch, seq, dim]
	// outputTokensST is sentence-transformers' name for the same thing.
	outputTokensST = "token_embeddings"
)

// Pooling modes for models whose output is per token.
const (
	PoolingNone = "none" // the model's output is already [batch, dim]
	PoolingMean = "mean" // mean over positions whose attention mask is 1
	PoolingCLS  = "cls"  // the first position
)

// Execution providers.
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderTensorRT = "tensorrt"
)

// SessionConfig says how to run a model.
type SessionConfig struct {
	Pooling        string // PoolingNone (or "") for pooled outputs; PoolingMean or PoolingCLS for per-token ones
	Normalize      bool   // L2-normalise each embedding
	IntraOpThreads int    // 0 leaves ONNX Runtime's default
	Provider       string // ProviderCPU (or ""), ProviderCUDA or ProviderTensorRT; falls back down that list when unavailable
	// Spin keeps ONNX Runtime's intra-op threads spinning while idle, within a call and between calls.
	// That saves wake-ups, which a many-operator transformer feels (encoder.Config.Spin turns it on for
	// model directories), but burns cores that other stages of the same process need, so it is off by
	// default.
	Spin bool
}

// Batch is one call's texts, already tokenized; rows may differ in length.
type Batch struct {
	IDs     [][]int64
	TypeIDs [][]int64 // optional; zeros when nil and the model takes token_type_ids
}

// Session runs one model. Use it from one goroutine at a time.
type Session struct {
	path      string
	sess      *onnx.DynamicAdvancedSession
	runOpts   *onnx.RunOptions
	inputs    []onnx.InputOutputInfo // in the order the session was created with
	tokens    bool                   // output is per token: [batch, seq, dim]
	pooling   string
	normalize bool
	provider  string
	dim       int
	meta      map[string]string

	// Tensors of the last call, reused while the batch shape stays the same.
	rows, seq int
	in        []onnx.Value
	out       *onnx.Tensor[float32]
	// Their backing arrays, grown to the largest batch so far: a new shape makes new tensor headers over
	// the same memory instead of allocating (and zeroing) tens of megabytes a call.
	buf64  [][]int64 // per input, for int64 inputs
	buf32  [][]int32 // per input, for int32 inputs
	outBuf []float32
}

// Open loads the model at path and matches its inputs and output (see Batch and SessionConfig).
func (rt *Runtime) Open(path string, cfg SessionConfig) (*Session, error) {
	if cfg.IntraOpThreads < 0 {
		return nil, fmt.Errorf("open %s: negative intra-op threads %d", path, cfg.IntraOpThreads)
	}
	ins, outs, err := onnx.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Session{path: path, normalize: cfg.Normalize}
	if err := s.matchInputs(ins); err != nil {
		return nil, err
	}
	out, err := s.matchOutput(outs, cfg.Pooling)
	if err != nil {
		return nil, err
	}
	if s.sess, s.provider, err = rt.newSession(path, cfg, s.inputNames(), out.Name); err != nil {
		return nil, err
	}
	if err := s.init(out); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) init(out onnx.InputOutputInfo) error {
	var err error
	if s.runOpts, err = onnx.NewRunOptions(); err != nil {
		return fmt.Errorf("open %s: run options: %w", s.path, err)
	}
	if s.meta, err = readMetadata(s.sess); err != nil {
		return fmt.Errorf("open %s: metadata: %w", s.path, err)
	}
	if d := out.Dimensions[len(out.Dimensions)-1]; d > 0 {
		s.dim = int(d)
		return nil
	}
	// A symbolic embedding size: learn it from a one-token batch.
	if _, err := s.Embed(context.Background(), Batch{IDs: [][]int64{{1}}}); err != nil {
		return fmt.Errorf("open %s: probe output size: %w", s.path, err)
	}
	return nil
}

func (s *Session) matchInputs(ins []onnx.InputOutputInfo) error {
	hasIDs := false
	for _, in := range ins {
		switch in.Name {
		case InputIDs, AttentionMask, TokenTypeIDs:
		default:
			return fmt.Errorf("open %s: unknown input %q (want %s, %s, %s)", s.path, in.Name, InputIDs, AttentionMask, TokenTypeIDs)
		}
		if in.OrtValueType != onnx.ONNXTypeTensor || len(in.Dimensions) != 2 ||
			(in.DataType != onnx.TensorElementDataTypeInt64 && in.DataType != onnx.TensorElementDataTypeInt32) {
			return fmt.Errorf("open %s: input %s is %s, want an int64 or int32 [batch, seq] tensor", s.path, in.Name, &in)
		}
		hasIDs = hasIDs || in.Name == InputIDs
	}
	if !hasIDs {
		return fmt.Errorf("open %s: no %s input", s.path, InputIDs)
	}
	s.inputs = ins
	return nil
}

func (s *Session) matchOutput(outs []onnx.InputOutputInfo, pooling string) (onnx.InputOutputInfo, error) {
	find := func(name string, rank int) (onnx.InputOutputInfo, bool) {
		for _, o := range outs {
			if (name == "" || o.Name == name) && len(o.Dimensions) == rank {
				return o, true
			}
		}
		return onnx.InputOutputInfo{}, false
	}
	out, ok := find(OutputPooled, 2)
	if !ok {
		out, ok = find(OutputTokens, 3)
	}
	if !ok {
		out, ok = find(outputTokensST, 3)
	}
	if !ok && len(outs) == 1 {
		if out, ok = find("", 2); !ok {
			out, ok = find("", 3)
		}
	}
	if !ok {
		names := make([]string, len(outs))
		for i := range outs {
			names[i] = outs[i].String()
		}
		return out, fmt.Errorf("open %s: no %s [batch, dim] or %s [batch, seq, dim] output among %v",
			s.path, OutputPooled, OutputTokens, names)
	}
	if out.OrtValueType != onnx.ONNXTypeTensor || out.DataType != onnx.TensorElementDataTypeFloat {
		return out, fmt.Errorf("open %s: output %s is %s, want float32", s.path, out.Name, &out)
	}
	s.tokens = len(out.Dimensions) == 3
	switch {
	case pooling != "" && pooling != PoolingNone && pooling != PoolingMean && pooling != PoolingCLS:
		return out, fmt.Errorf("open %s: unknown pooling %q", s.path, pooling)
	case s.tokens && (pooling == "" || pooling == PoolingNone):
		return out, fmt.Errorf("open %s: output %s is per token: pooling must be %q or %q", s.path, out.Name, PoolingMean, PoolingCLS)
	case !s.tokens && pooling != "" && pooling != PoolingNone:
		return out, fmt.Errorf("open %s: output %s is already pooled: pooling must be %q", s.path, out.Name, PoolingNone)
	}
	s.pooling = pooling
	return out, nil
}

func (s *Session) inputNames() []string {
	names := make([]string, len(s.inputs))
	for i, in := range s.inputs {
		names[i] = in.Name
	}
	return names
}

// newSession creates the ONNX Runtime session on the asked provider, or on the next one that can be had:
// TensorRT, then CUDA, then the CPU, logging each provider that fails and the one that runs.
func (rt *Runtime) newSession(path string, cfg SessionConfig, inputs []string, output string) (*onnx.DynamicAdvancedSession, string, error) {
	var chain []string
	switch cfg.Provider {
	case "", ProviderCPU:
	case ProviderCUDA:
		chain = []string{ProviderCUDA}
	case ProviderTensorRT:
		chain = []string{ProviderTensorRT, ProviderCUDA}
	default:
		return nil, "", fmt.Errorf("open %s: unknown provider %q", path, cfg.Provider)
	}
	for _, p := range chain {
		sess, err := newSessionOn(path, cfg, inputs, output, p)
		if err == nil {
			rt.log.Info("onnx runtime session", "model", path, "provider", p)
			return sess, p, nil
		}
		rt.log.Warn("onnx runtime session: "+p+" unavailable, trying the next provider", "model", path, "err", err)
	}
	if len(chain) > 0 {
		rt.log.Warn("onnx runtime session: running on CPU", "model", path, "provider", ProviderCPU, "asked", cfg.Provider)
	}
	sess, err := newSessionOn(path, cfg, inputs, output, ProviderCPU)
	return sess, ProviderCPU, err
}

// newSessionOn creates the session on one provider. TensorRT gets CUDA behind it for the nodes it cannot
// take, as ONNX Runtime recommends.
func newSessionOn(path string, cfg SessionConfig, inputs []string, output string, provider string) (*onnx.DynamicAdvancedSession, error) {
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("open %s: session options: %w", path, err)
	}
	defer opts.Destroy()
	if !cfg.Spin {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return nil, fmt.Errorf("open %s: disable spinning: %w", path, err)
		}
	}
	if cfg.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(cfg.IntraOpThreads); err != nil {
			return nil, fmt.Errorf("open %s: set intra-op threads: %w", path, err)
		}
	}
	if provider == ProviderTensorRT {
		trtOpts, err := onnx.NewTensorRTProviderOptions()
		if err != nil {
			return nil, fmt.Errorf("open %s: TensorRT provider options: %w", path, err)
		}
		defer trtOpts.Destroy()
		if err := opts.AppendExecutionProviderTensorRT(trtOpts); err != nil {
			return nil, fmt.Errorf("open %s: TensorRT provider: %w", path, err)
		}
	}
	if provider == ProviderTensorRT || provider == ProviderCUDA {
		cudaOpts, err := onnx.NewCUDAProviderOptions()
		if err != nil {
			return nil, fmt.Errorf("open %s: CUDA provider options: %w", path, err)
		}
		defer cudaOpts.Destroy()
		if err := opts.AppendExecutionProviderCUDA(cudaOpts); err != nil {
			return nil, fmt.Errorf("open %s: CUDA provider: %w", path, err)
		}
	}
	sess, err := onnx.NewDynamicAdvancedSession(path, inputs, []string{output}, opts)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return sess, nil
}

func readMetadata(sess *onnx.DynamicAdvancedSession) (map[string]string, error) {
	md, err := sess.GetModelMetadata()
	if err != nil {
		return nil, err
	}
	defer md.Destroy()
	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return nil, err
	}
	meta := make(map[string]string, len(keys))
	for _, k := range keys {
		v, _, err := md.LookupCustomMetadataMap(k)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		meta[k] = v
	}
	return meta, nil
}

// Metadata returns the model's custom metadata properties.
func (s *Session) Metadata() map[string]string { return s.meta }

// Dim is the embedding size.
func (s *Session) Dim() int { return s.dim }

// Provider is the execution provider the session runs on.
func (s *Session) Provider() string { return s.provider }

// Embed returns the embeddings of b's rows, row-major [rows x Dim()].
func (s *Session) Embed(ctx context.Context, b Batch) ([]float32, error) {
	if b.TypeIDs != nil && len(b.TypeIDs) != len(b.IDs) {
		return nil, fmt.Errorf("embed with %s: %d token type rows for %d rows", s.path, len(b.TypeIDs), len(b.IDs))
	}
	if len(b.IDs) == 0 {
		return nil, nil
	}
	seq := 1 // ONNX Runtime handles empty dimensions poorly; an all-padding column is harmless
	for i, row := range b.IDs {
		seq = max(seq, len(row))
		if b.TypeIDs != nil && len(b.TypeIDs[i]) != len(row) {
			return nil, fmt.Errorf("embed with %s: row %d has %d ids but %d token types", s.path, i, len(row), len(b.TypeIDs[i]))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.prepare(len(b.IDs), seq); err != nil {
		return nil, fmt.Errorf("embed with %s: %w", s.path, err)
	}
	for i, in := range s.inputs {
		fill(s.in[i], in.Name, b, seq)
	}
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	data := s.out.GetData()
	if s.dim == 0 {
		s.dim = int(s.out.GetShape()[len(s.out.GetShape())-1])
	}
	var emb []float32
	if s.tokens {
		emb = s.pool(data, b.IDs, seq)
	} else {
		emb = slices.Clone(data)
	}
	if s.normalize {
		normalize(emb, s.dim)
	}
	return emb, nil
}

func (s *Session) run(ctx context.Context) error {
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		s.runOpts.Terminate()
		close(terminated)
	})
	var out onnx.Value
	if s.out != nil {
		out = s.out
	}
	outs := []onnx.Value{out}
	err := s.sess.RunWithOptions(s.in, outs, s.runOpts)
	if !stop() {
		// Cancelled: wait for the flag to be set before clearing it for the next call.
		<-terminated
		if e := s.runOpts.UnsetTerminate(); e != nil {
			err = errors.Join(err, e)
		}
		if s.out == nil && outs[0] != nil {
			outs[0].Destroy()
		}
		return fmt.Errorf("embed with %s: %w", s.path, errors.Join(ctx.Err(), err))
	}
	if err != nil {
		return fmt.Errorf("embed with %s: %w", s.path, err)
	}
	if s.out == nil {
		t, ok := outs[0].(*onnx.Tensor[float32])
		if !ok {
			outs[0].Destroy()
			return fmt.Errorf("embed with %s: output is %T, want float32 tensor", s.path, outs[0])
		}
		s.out = t
	}
	return nil
}

// prepare makes the input (and, once the size is known, output) tensors for a rows x seq batch,
// reusing the last call's when the shape is the same.
func (s *Session) prepare(rows, seq int) error {
	if s.in != nil && s.rows == rows && s.seq == seq {
		return nil
	}
	s.destroyTensors()
	if s.buf64 == nil {
		s.buf64, s.buf32 = make([][]int64, len(s.inputs)), make([][]int32, len(s.inputs))
	}
	shape := onnx.NewShape(int64(rows), int64(seq))
	for i, in := range s.inputs {
		var v onnx.Value
		var err error
		if in.DataType == onnx.TensorElementDataTypeInt32 {
			s.buf32[i] = atLeast(s.buf32[i], rows*seq)
			v, err = onnx.NewTensor(shape, s.buf32[i])
		} else {
			s.buf64[i] = atLeast(s.buf64[i], rows*seq)
			v, err = onnx.NewTensor(shape, s.buf64[i])
		}
		if err != nil {
			s.destroyTensors()
			return fmt.Errorf("allocate %s %v: %w", in.Name, shape, err)
		}
		s.in = append(s.in, v)
	}
	if s.dim > 0 {
		outShape := onnx.NewShape(int64(rows), int64(s.dim))
		if s.tokens {
			outShape = onnx.NewShape(int64(rows), int64(seq), int64(s.dim))
		}
		s.outBuf = atLeast(s.outBuf, int(outShape.FlattenedSize()))
		var err error
		if s.out, err = onnx.NewTensor(outShape, s.outBuf); err != nil {
			s.destroyTensors()
			return fmt.Errorf("allocate output %v: %w", outShape, err)
		}
	}
	s.rows, s.seq = rows, seq
	return nil
}

// atLeast returns buf if it holds n elements, else a new slice of n. Callers overwrite every element they
// use, so the old contents need not be kept or cleared.
func atLeast[T any](buf []T, n int) []T {
	if len(buf) >= n {
		return buf
	}
	return make([]T, n)
}

// fill writes input name's values for b, padded to seq: every element of the rows x seq tensor.
func fill(v onnx.Value, name string, b Batch, seq int) {
	value := func(r, i int) int64 {
		switch {
		case i >= len(b.IDs[r]):
			return 0
		case name == InputIDs:
			return b.IDs[r][i]
		case name == AttentionMask:
			return 1
		case b.TypeIDs != nil:
			return b.TypeIDs[r][i]
		}
		return 0
	}
	switch t := v.(type) {
	case *onnx.Tensor[int64]:
		data := t.GetData()
		for r := range b.IDs {
			for i := range seq {
				data[r*seq+i] = value(r, i)
			}
		}
	case *onnx.Tensor[int32]:
		data := t.GetData()
		for r := range b.IDs {
			for i := range seq {
				data[r*seq+i] = int32(value(r, i))
			}
		}
	}
}

// pool reduces per-token outputs [rows, seq, dim] to [rows, dim].
func (s *Session) pool(data []float32, ids [][]int64, seq int) []float32 {
	emb := make([]float32, len(ids)*s.dim)
	for r, row := range ids {
		dst := emb[r*s.dim : (r+1)*s.dim]
		tok := func(i int) []float32 { return data[(r*seq+i)*s.dim : (r*seq+i+1)*s.dim] }
		if s.pooling == PoolingCLS {
			copy(dst, tok(0))
			continue
		}
		for i := range row {
			for j, v := range tok(i) {
				dst[j] += v
			}
		}
		n := float32(max(len(row), 1))
		for j := range dst {
			dst[j] /= n
		}
	}
	return emb
}

// normalize scales each dim-long row of emb to unit L2 norm (rows of zeros stay zero).
func normalize(emb []float32, dim int) {
	for r := 0; r < len(emb); r += dim {
		row := emb[r : r+dim]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		norm := float32(max(math.Sqrt(ss), 1e-12))
		for j := range row {
			row[j] /= norm
		}
	}
}

func (s *Session) destroyTensors() {
	for _, v := range s.in {
		v.Destroy()
	}
	s.in = nil
	if s.out != nil {
		s.out.Destroy()
		s.out = nil
	}
}

// Close releases the session's ONNX Runtime resources.
func (s *Session) Close() error {
	s.destroyTensors()
	if s.runOpts != nil {
		s.runOpts.Destroy()
		s.runOpts = nil
	}
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}
