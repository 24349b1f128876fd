package transformer_test

import (
	"bufio"
	"bytes"
	"cmp"
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
	tokenBudget  = 2048 // rows x padded length per bucketed batch
	maxBatchRows = 64
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

// bucketed groups rows of similar length: sorted by length, a batch grows while its rows times its
// longest row stay within tokenBudget.
func bucketed(rows [][]int64) []ort.Batch {
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b []int64) int { return cmp.Compare(len(a), len(b)) })
	var out []ort.Batch
	var cur ort.Batch
	for _, r := range sorted {
		if len(cur.IDs) > 0 && ((len(cur.IDs)+1)*len(r) > tokenBudget || len(cur.IDs) == maxBatchRows) {
			out = append(out, cur)
			cur = ort.Batch{}
		}
		cur.IDs = append(cur.IDs, r)
	}
	if len(cur.IDs) > 0 {
		out = append(out, cur)
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

// variant is one way of encoding the benchmark's texts; pass encodes all of them once.
type variant struct {
	name string
	pass func()
}

// runInterleaved times rounds in which every variant makes one pass, in an order that rotates each
// round, so that load from other processes on the machine, and whatever one runtime leaves behind for
// the next, falls on all of them alike. One op is a full rotation: as many rounds as variants. It
// reports each variant's texts/s and tokens/s (real tokens, padding excluded) over all rounds, and
// for each pair in ratios, "a/b", the median over rounds of b's pass time over a's: a's speed-up.
func runInterleaved(b *testing.B, rows [][]int64, vs []variant, ratios ...[2]string) {
	for _, v := range vs {
		v.pass() // warm-up: first runs of a shape are slower in every runtime
	}
	secs := make(map[string][]float64, len(vs))
	rounds := b.N * len(vs)
	b.ResetTimer()
	for i := range rounds {
		for k := range vs {
			v := vs[(i+k)%len(vs)]
			start := time.Now()
			v.pass()
			secs[v.name] = append(secs[v.name], time.Since(start).Seconds())
		}
	}
	b.StopTimer()
	tokens := 0
	for _, r := range rows {
		tokens += len(r)
	}
	for _, v := range vs {
		var total float64
		for _, s := range secs[v.name] {
			total += s
		}
		b.ReportMetric(float64(len(rows)*rounds)/total, v.name+"-texts/s")
		b.ReportMetric(float64(tokens*rounds)/total, v.name+"-tokens/s")
	}
	for _, r := range ratios {
		per := make([]float64, rounds)
		for i := range per {
			per[i] = secs[r[1]][i] / secs[r[0]][i]
		}
		slices.Sort(per)
		b.ReportMetric(per[len(per)/2], r[0]+"/"+r[1])
	}
}

// BenchmarkMiniLM runs the MiniLM-L12-shaped model (12 layers x 384) over XQuAD-R texts of all
// 11 languages: xling's runner on token-budget length-bucketed batches and on fixed-size batches,
// bare onnxruntime_go, and onnxruntime-node on the bucketed batches. One op is four passes of each.
func BenchmarkMiniLM(b *testing.B) {
	rt := newRuntime(b)
	path := model(b, "minilm", miniLM)
	rows := benchRows(b, miniLM.Vocab)
	runInterleaved(b, rows, []variant{
		{"xling", xlingPass(b, rt, path, bucketed(rows))},
		{"xling_fixed", xlingPass(b, rt, path, fixedSize(rows))},
		{"bare", barePass(b, path, miniLM.Hidden, bucketed(rows))},
		{"node", nodePass(b, path, bucketed(rows))},
	}, [2]string{"xling", "bare"}, [2]string{"xling", "node"}, [2]string{"xling", "xling_fixed"})
}

// BenchmarkBase compares xling with bare onnxruntime_go on the base shape (12 layers x 768).
func BenchmarkBase(b *testing.B) {
	rt := newRuntime(b)
	path := model(b, "base", base)
	rows := benchRows(b, base.Vocab)
	runInterleaved(b, rows, []variant{
		{"xling", xlingPass(b, rt, path, bucketed(rows))},
		{"bare", barePass(b, path, base.Hidden, bucketed(rows))},
	}, [2]string{"xling", "bare"})
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
	cmd := exec.Command(nodeBin, filepath.Join("testdata", "bench.js"), pkg, path, batchFile, fmt.Sprint(benchThreads))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("testdata/bench.js: %v\n%s", err, stderr.Bytes())
		}
	})
	replies := bufio.NewScanner(stdout)
	return func() {
		if _, err := io.WriteString(stdin, "pass\n"); err != nil {
			b.Fatalf("testdata/bench.js: %v\n%s", err, stderr.Bytes())
		}
		if !replies.Scan() || replies.Text() != "ok" {
			b.Fatalf("testdata/bench.js: reply %q, %v\n%s", replies.Text(), replies.Err(), stderr.Bytes())
		}
	}
}
