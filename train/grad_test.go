package train

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"xling/encoder/hashbag"
	"xling/internal/testenv"
	"xling/tokenizer/ngram"
)

// gradCase is a small network and batch that exercises every branch: an empty text (its embedding is the
// normalised bias), padding, an id repeated within a text and shared across texts, texts whose language
// the discriminator does not know.
type gradCase struct {
	name      string
	symmetric bool
	langs     []string
	lambda    float64
	// disc and discLang are the discriminator's own texts (the balanced design); none: the batch's texts.
	disc     [][]int64
	discLang []int
}

var gradCases = []gradCase{
	{name: "query-to-passage with discriminator", langs: []string{"en", "de", "zh"}, lambda: 0.7},
	{name: "symmetric with discriminator", symmetric: true, langs: []string{"en", "de", "zh"}, lambda: 1.3},
	{name: "no discriminator"},
	// Discriminator texts of its own, one sharing rows with the batch (3, 8), one empty, one of a language
	// it does not know.
	{name: "balanced discriminator texts", langs: []string{"en", "de", "zh"}, lambda: 0.9,
		disc: [][]int64{{3, 32, 33}, {8, 34, 0}, {}, {35, 36, 37, 38}, {39}}, discLang: []int{2, 0, 1, -1, 1}},
}

const (
	gradBuckets = 40
	gradDim     = 6
	gradOut     = 5
	gradHidden  = 7
)

var (
	gradQueries  = [][]int64{{3, 5, 5, 0, 0}, {7, 8, 9, 10}, {}, {11, 3, 12}, {13, 14, 15, 16, 17, 18}}
	gradPassages = [][]int64{{3, 19, 20}, {21, 8, 22, 0}, {23, 24}, {25}, {26, 27, 28, 29, 3, 30, 31}}
	gradQLang    = []int{0, 1, 2, -1, 0}
	gradPLang    = []int{1, 1, 0, 2, -1}
)

func gradModel(t *testing.T) *hashbag.Model {
	t.Helper()
	cfg := ngram.DefaultConfig()
	cfg.Buckets = gradBuckets
	m := hashbag.NewRandom(cfg, gradDim, gradOut, 7)
	for i := range m.Bias {
		m.Bias[i] = float32(i)*0.1 - 0.2 // a non-zero bias, so its gradient and the empty text matter
	}
	return m
}

func gradConfig(c gradCase) Config {
	cfg := DefaultConfig()
	cfg.Seed = 3
	cfg.LR = 0.01
	cfg.Temperature = 0.05
	cfg.Symmetric = c.symmetric
	cfg.Languages = c.langs
	cfg.DiscHidden = gradHidden
	cfg.Lambda = c.lambda
	cfg.Threads = 2
	return cfg
}

func gradBatch(c gradCase) *Tokenized {
	return &Tokenized{Queries: gradQueries, Passages: gradPassages, QLang: gradQLang, PLang: gradPLang, Disc: c.disc, DiscLang: c.discLang}
}

// tensors are the values compared with PyTorch, by name.
type tensors map[string][]float64

func f64[F Float](s []F) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// denseEmbGrad scatters the touched rows' gradients into a full table.
func denseEmbGrad[F Float](n *net[F]) []float64 {
	g := make([]float64, n.buckets*n.dim)
	for s, r := range n.rows {
		for k := range n.dim {
			g[int(r)*n.dim+k] = float64(n.gEmb[s*n.dim+k])
		}
	}
	return g
}

// runGo takes two steps on the batch and returns the first step's loss and gradients, both losses, and the
// weights after the second step.
func runGo[F Float](t *testing.T, c gradCase, m *hashbag.Model) (grads, weights tensors, losses []float64) {
	t.Helper()
	n, err := newNet[F](gradConfig(c), m)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	for step := range 2 {
		if err := n.load(gradBatch(c)); err != nil {
			t.Fatal(err)
		}
		st := n.forward()
		losses = append(losses, st.Loss)
		n.backward()
		if step == 0 {
			grads = tensors{"emb": denseEmbGrad(n), "proj": f64(n.gProj), "bias": f64(n.gBias)}
			if n.hidden > 0 {
				grads["w1"], grads["b1"], grads["w2"], grads["b2"] = f64(n.gW1), f64(n.gB1), f64(n.gW2), f64(n.gB2)
				grads["rev"] = f64(n.rev)
			}
		}
		n.update()
	}
	weights = tensors{"emb": f64(n.emb), "proj": f64(n.proj), "bias": f64(n.bias)}
	if n.hidden > 0 {
		weights["w1"], weights["b1"], weights["w2"], weights["b2"] = f64(n.w1), f64(n.b1), f64(n.w2), f64(n.b2)
	}
	return grads, weights, losses
}

func writeF64(t *testing.T, path string, v []float64) {
	t.Helper()
	buf := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF64(t *testing.T, path string) []float64 {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float64, len(buf)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
	}
	return v
}

// writeCase writes the initial weights (including the discriminator a float64 net draws) and the batch.
func writeCase(t *testing.T, dir string, c gradCase, m *hashbag.Model) {
	t.Helper()
	cfg := gradConfig(c)
	n, err := newNet[float64](cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	for name, v := range map[string][]float64{"emb": n.emb, "proj": n.proj, "bias": n.bias, "w1": n.w1, "b1": n.b1, "w2": n.w2, "b2": n.b2} {
		writeF64(t, filepath.Join(dir, name+".f64"), v)
	}
	meta := map[string]any{
		"buckets": gradBuckets, "dim": gradDim, "out": gradOut, "hidden": n.hidden, "langs": len(c.langs),
		"temperature": cfg.Temperature, "symmetric": c.symmetric, "lambda": c.lambda,
		"lr": cfg.LR, "beta1": cfg.Beta1, "beta2": cfg.Beta2, "eps": cfg.Eps, "weight_decay": cfg.WeightDecay,
		"queries": gradQueries, "passages": gradPassages, "qlang": gradQLang, "plang": gradPLang,
		"disc": c.disc, "disc_lang": c.discLang,
	}
	js, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "case.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
}

// closeRel reports whether every element agrees to rtol relative to the reference (with atol for
// elements that are zero in exact arithmetic).
func closeRel(got, want []float64, rtol, atol float64) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= atol+rtol*math.Abs(want[i])) {
			return i, false
		}
	}
	return 0, true
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

// TestGradientsMatchPyTorch checks the loss, every gradient of a step (embedding rows, projection, bias,
// discriminator, and the reversed gradient the encoder receives) and the weights after two AdamW steps
// against PyTorch's autograd and torch.optim.AdamW. The check runs the float64 instantiation of the same
// code to 1e-5 relative per element: float32 accumulation cannot meet that bound on elements near zero,
// so the float32 network the trainer uses is checked separately against the same reference, to 1e-4 of
// each tensor's largest element.
func TestGradientsMatchPyTorch(t *testing.T) {
	py := testenv.RequirePython(t, "torch", "numpy")
	root := t.TempDir()
	dirs := make([]string, len(gradCases))
	for i, c := range gradCases {
		dirs[i] = filepath.Join(root, string(rune('a'+i)))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
		writeCase(t, dirs[i], c, gradModel(t))
	}
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", "grad_check.py")}, dirs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("grad_check.py: %v\n%s", err, out)
	}
	for i, c := range gradCases {
		t.Run(c.name, func(t *testing.T) {
			dir := dirs[i]
			var ref struct{ Loss []float64 }
			js, err := os.ReadFile(filepath.Join(dir, "loss.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(js, &ref); err != nil {
				t.Fatal(err)
			}
			check := func(t *testing.T, grads, weights tensors, losses []float64, match func(got, want []float64) (int, bool)) {
				t.Helper()
				if at, ok := match(losses, ref.Loss); !ok {
					t.Errorf("loss of step %d: got %v, PyTorch %v", at+1, losses, ref.Loss)
				}
				for _, kind := range []struct {
					set    tensors
					prefix string
				}{{grads, "g_"}, {weights, ""}} {
					for name, got := range kind.set {
						file := kind.prefix + name
						want := readF64(t, filepath.Join(dir, file+".out.f64"))
						if at, ok := match(got, want); !ok {
							if at < 0 {
								t.Errorf("%s: %d values, PyTorch %d", file, len(got), len(want))
								continue
							}
							t.Errorf("%s[%d]: got %.10g, PyTorch %.10g", file, at, got[at], want[at])
						}
					}
				}
				if len(grads) != map[bool]int{true: 8, false: 3}[c.langs != nil] {
					t.Errorf("compared %d gradients", len(grads))
				}
			}
			t.Run("float64", func(t *testing.T) {
				grads, weights, losses := runGo[float64](t, c, gradModel(t))
				if rev := grads["rev"]; c.langs != nil && maxAbs(rev) == 0 {
					t.Errorf("reversed gradient is zero")
				}
				check(t, grads, weights, losses, func(got, want []float64) (int, bool) { return closeRel(got, want, 1e-5, 1e-12) })
			})
			t.Run("float32", func(t *testing.T) {
				grads, weights, losses := runGo[float32](t, c, gradModel(t))
				check(t, grads, weights, losses, func(got, want []float64) (int, bool) {
					return closeRel(got, want, 0, 1e-4*max(maxAbs(want), 1e-30))
				})
			})
		})
	}
}

// TestForwardMatchesModel checks that the trainer embeds texts exactly as hashbag.Model.Forward, the
// definition the ONNX graph follows.
func TestForwardMatchesModel(t *testing.T) {
	cfg := ngram.DefaultConfig()
	m := hashbag.NewRandom(cfg, 128, 128, 11)
	for i := range m.Bias {
		m.Bias[i] = float32(i%7) * 0.01
	}
	tok, err := ngram.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"query: Where is the Eiffel Tower?", "passage: The Eiffel Tower is in Paris.",
		"query: 埃菲尔铁塔在哪里？", "passage: Der Eiffelturm steht in Paris.", "", "query: สวัสดี"}
	var ids [][]int64
	for _, s := range texts {
		v, _ := tok.Encode(s)
		ids = append(ids, v)
	}
	ids[1] = append(ids[1], 0, 0, 0) // padding counts for nothing
	want := m.Forward(ids)
	half := len(ids) / 2
	n, err := newNet[float32](DefaultConfig(), m)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if err := n.load(&Tokenized{Queries: ids[:half], Passages: ids[half:], QLang: make([]int, half), PLang: make([]int, half)}); err != nil {
		t.Fatal(err)
	}
	n.forward()
	for i := range ids {
		got := f64(n.e[i*m.Out : (i+1)*m.Out])
		if at, ok := closeRel(got, f64(want[i]), 1e-5, 1e-6); !ok {
			t.Errorf("text %d (%q) dim %d: trainer %g, Forward %g", i, texts[i], at, got[at], want[i][at])
		}
	}
}
