package transformer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	onnx "github.com/yalue/onnxruntime_go"

	"xling/encoder/ort"
	"xling/internal/testenv"
)

// Benchmark set-up: every peer runs the same model on the same id rows with the same threads.
const (
	benchLangs   = "ar de el en es hi ru th tr vi zh"
	benchPerLang = 10  // texts per language: 110 texts, 1–3 s a pass on 2 cores
	benchMaxLen  = 128 // tokens a row, special tokens included, as a retrieval encoder would truncate
	benchSeed    = 7
	benchThreads = 2
	fixedRows    = 32 // rows per batch of the fixed-size baseline, in arrival order
	maxDataFile  = 64 << 20
)

// xquadrSentences returns lang's XQuAD-R candidate sentences in file order.
func xquadrSentences(tb testing.TB, lang string) []string {
	tb.Helper()
	path := filepath.Join(testenv.DataDir(tb), "xquad-r", lang+".json")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Data []struct {
			Paragraphs []struct {
				Sentences []string `json:"sentences"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(f, maxDataFile)).Decode(&doc); err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	var out []string
	for _, d := range doc.Data {
		for _, p := range d.Paragraphs {
			out = append(out, p.Sentences...)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("read %s: no sentences", path)
	}
	return out
}

// hashTokens stands in for a subword tokenizer: words (split at spaces and punctuation) are cut
// into pieces of at most 4 characters — so Chinese and Thai, written without spaces, get
// word-piece-like lengths too — and each piece is hashed into the vocabulary above the special ids.
func hashTokens(text string, vocab int) []int64 {
	ids := []int64{bos}
	piece := make([]rune, 0, 4)
	flush := func() {
		if len(piece) == 0 {
			return
		}
		h := fnv.New64a()
		h.Write([]byte(string(piece)))
		ids = append(ids, int64(3+h.Sum64()%uint64(vocab-3)))
		piece = piece[:0]
	}
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
			flush()
		case unicode.IsPunct(r):
			flush()
			piece = append(piece, r)
			flush()
		default:
			piece = append(piece, r)
			if len(piece) == 4 {
				flush()
			}
		}
	}
	flush()
	ids = append(ids[:min(len(ids), benchMaxLen-1)], eos)
	return ids
}

// benchRows returns the benchmark's id rows: benchPerLang sentences of each language drawn with
// benchSeed, shuffled together. They are cached as JSON so every peer (the node script included)
// reads the same ids.
func benchRows(tb testing.TB, vocab int) [][]int64 {
	tb.Helper()
	path := filepath.Join(testenv.RepoRoot(tb), ".cache", "models",
		fmt.Sprintf("xquadr-ids-v1-%d-%d-%d-%d.json", benchPerLang, benchMaxLen, benchSeed, vocab))
	var rows [][]int64
	if js, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(js, &rows); err != nil {
			tb.Fatalf("read %s: %v", path, err)
		}
		return rows
	}
	rng := rand.New(rand.NewPCG(benchSeed, 0))
	for _, lang := range strings.Fields(benchLangs) {
		sents := xquadrSentences(tb, lang)
		for _, i := range rng.Perm(len(sents))[:benchPerLang] {
			rows = append(rows, hashTokens(sents[i], vocab))
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	js, err := json.Marshal(rows)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, js, 0o644); err != nil {
		tb.Fatal(err)
	}
	return rows
}

// planned batches rows as the encode stage does: ort.Plan with the stage's default token budget and row
// cap.
func planned(rows [][]int64) []ort.Batch {
	lengths := make([]int, len(rows))
	for i, r := range rows {
		lengths[i] = len(r)
	}
	var out []ort.Batch
	for _, call := range ort.Plan(lengths, ort.DefaultTokenBudget, ort.DefaultMaxRows) {
		var b ort.Batch
		for _, i := range call {
			b.IDs = append(b.IDs, rows[i])
		}
		out = append(out, b)
	}
	return out
}

// fixedSize cuts rows into batches of fixedRows in arrival order; each is padded to its longest row.
func fixedSize(rows [][]int64) []ort.Batch {
	var out []ort.Batch
	for b := range slices.Chunk(rows, fixedRows) {
		out = append(out, ort.Batch{IDs: b})
	}
	return out
}

// timed turns a pass into a benchmark peer that reports its own seconds.
func timed(name string, pass func()) testenv.Peer {
	return testenv.Peer{Name: name, Run: func() float64 {
		start := time.Now()
		pass()
		return time.Since(start).Seconds()
	}}
}

// runInterleaved takes turns between xling's pass and the peers' (testenv.Interleave, one warm-up pass
// each, since first runs of a shape are slower in every runtime) and reports texts/s and tokens/s (real
// tokens, padding excluded) for xling and each peer.
func runInterleaved(b *testing.B, rows [][]int64, xling func(), peers ...testenv.Peer) {
	xs, ps := testenv.Interleave(b, 1, xling, peers...)
	tokens := 0
	for _, r := range rows {
		tokens += len(r)
	}
	report := func(name string, secs []float64) {
		b.ReportMetric(float64(len(rows)*len(secs))/testenv.Sum(secs), name+"-texts/s")
		b.ReportMetric(float64(tokens*len(secs))/testenv.Sum(secs), name+"-tokens/s")
	}
	report("xling", xs)
	for i, p := range peers {
		report(p.Name, ps[i])
	}
}

// BenchmarkMiniLM runs the MiniLM-L12-shaped model (12 layers x 384) over XQuAD-R texts of all
// 11 languages: xling's runner on the batches the encode stage plans (ort.Plan, default budget),
// against its runner on fixed-size batches (x-fixed), bare onnxruntime_go (x-bare-ort) and
// onnxruntime-node (x-node) on the planned batches. One op is one pass of each.
func BenchmarkMiniLM(b *testing.B) {
	rt := newRuntime(b)
	path := model(b, "minilm", miniLM)
	rows := benchRows(b, miniLM.Vocab)
	runInterleaved(b, rows, xlingPass(b, rt, path, planned(rows)),
		timed("fixed", xlingPass(b, rt, path, fixedSize(rows))),
		timed("bare-ort", barePass(b, path, miniLM.Hidden, planned(rows))),
		timed("node", nodePass(b, path, planned(rows))))
}

// BenchmarkBase compares xling with bare onnxruntime_go on the base shape (12 layers x 768).
func BenchmarkBase(b *testing.B) {
	rt := newRuntime(b)
	path := model(b, "base", base)
	rows := benchRows(b, base.Vocab)
	runInterleaved(b, rows, xlingPass(b, rt, path, planned(rows)),
		timed("bare-ort", barePass(b, path, base.Hidden, planned(rows))))
}

// xlingPass embeds the batches with xling's runner, mean-pooled and normalised, with the session
// settings the encode stage gives a model directory (spinning threads included).
func xlingPass(b *testing.B, rt *ort.Runtime, path string, batches []ort.Batch) func() {
	s := open(b, rt, path, ort.SessionConfig{Pooling: ort.PoolingMean, Normalize: true, IntraOpThreads: benchThreads, Spin: true})
	ctx := context.Background()
	return func() {
		for _, batch := range batches {
			if _, err := s.Embed(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// padded is a batch laid out as the model takes it.
type padded struct {
	Rows  int     `json:"rows"`
	Seq   int     `json:"seq"`
	IDs   []int64 `json:"ids"`
	Masks []int64 `json:"masks"`
}

func pad(batch ort.Batch) padded {
	p := padded{Rows: len(batch.IDs)}
	for _, r := range batch.IDs {
		p.Seq = max(p.Seq, len(r))
	}
	p.IDs = make([]int64, p.Rows*p.Seq)
	p.Masks = make([]int64, p.Rows*p.Seq)
	for i, r := range batch.IDs {
		copy(p.IDs[i*p.Seq:], r)
		for j := range r {
			p.Masks[i*p.Seq+j] = 1
		}
	}
	return p
}

// barePass runs the batches through onnxruntime_go directly, with every tensor made beforehand:
// the floor of what a Go runner can cost.
func barePass(b *testing.B, path string, hidden int, batches []ort.Batch) func() {
	// The environment is process-wide; the benchmark's xling Runtime holds it open.
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(benchThreads); err != nil {
		b.Fatal(err)
	}
	names := []string{"input_ids", "attention_mask", "token_type_ids"}
	sess, err := onnx.NewDynamicAdvancedSession(path, names, []string{"last_hidden_state"}, opts)
	if err != nil {
		b.Fatal(err)
	}
	type tensors struct{ in, out []onnx.Value }
	var all []tensors
	b.Cleanup(func() {
		for _, x := range all {
			for _, v := range append(x.in, x.out...) {
				v.Destroy()
			}
		}
		sess.Destroy()
	})
	for _, batch := range batches {
		p := pad(batch)
		shape := onnx.NewShape(int64(p.Rows), int64(p.Seq))
		var x tensors
		for _, data := range [][]int64{p.IDs, p.Masks, make([]int64, len(p.IDs))} {
			t, err := onnx.NewTensor(shape, data)
			if err != nil {
				b.Fatal(err)
			}
			x.in = append(x.in, t)
		}
		out, err := onnx.NewEmptyTensor[float32](onnx.NewShape(int64(p.Rows), int64(p.Seq), int64(hidden)))
		if err != nil {
			b.Fatal(err)
		}
		x.out = []onnx.Value{out}
		all = append(all, x)
	}
	return func() {
		for _, x := range all {
			if err := sess.Run(x.in, x.out); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// nodePass starts testdata/bench.js, which loads the model into onnxruntime-node and makes one pass
// over the padded batches for every line it reads.
func nodePass(b *testing.B, path string, batches []ort.Batch) func() {
	nodeBin := testenv.RequireTool(b, "node")
	pkg := filepath.Join(testenv.RepoRoot(b), ".cache", "npm", "node_modules", "onnxruntime-node")
	if _, err := os.Stat(pkg); err != nil {
		testenv.Missing(b, "onnxruntime-node in "+pkg+" (`make oracles` installs it)")
	}
	ps := make([]padded, len(batches))
	for i, batch := range batches {
		ps[i] = pad(batch)
	}
	js, err := json.Marshal(ps)
	if err != nil {
		b.Fatal(err)
	}
	batchFile := filepath.Join(b.TempDir(), "batches.json")
	if err := os.WriteFile(batchFile, js, 0o644); err != nil {
		b.Fatal(err)
	}
	ask := testenv.StartPeer(b, exec.Command(nodeBin, filepath.Join("testdata", "bench.js"), pkg, path, batchFile, fmt.Sprint(benchThreads)))
	return func() {
		if reply := ask("pass"); reply != "ok" {
			b.Fatalf("testdata/bench.js: reply %q", reply)
		}
	}
}
