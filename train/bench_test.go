package train

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"xling/encoder/hashbag"
	"xling/internal/testenv"
	"xling/tokenizer/ngram"
)

const (
	benchBatch   = 256
	benchBatches = 7 // 7 x 256 of NTREX's 1997 lines
	benchThreads = 2
	benchWarmup  = 3
)

// benchData tokenises NTREX English questions against German passages (real sentence lengths) into
// benchBatches batches of benchBatch pairs.
func benchData(b *testing.B, cfg Config, tok *ngram.Tokenizer) []Tokenized {
	b.Helper()
	dir := filepath.Join(testenv.DataDir(b), "bitext", "ntrex")
	read := func(name string) []string {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var lines []string
		sc := bufio.NewScanner(f)
		for sc.Scan() && len(lines) < benchBatch*benchBatches {
			lines = append(lines, sc.Text())
		}
		if err := sc.Err(); err != nil {
			b.Fatalf("read %s: %v", name, err)
		}
		if len(lines) < benchBatch*benchBatches {
			b.Fatalf("%s: %d lines, need %d", name, len(lines), benchBatch*benchBatches)
		}
		return lines
	}
	en, de := read("eng.txt"), read("deu.txt")
	out := make([]Tokenized, benchBatches)
	for k := range out {
		tb := &out[k]
		for i := k * benchBatch; i < (k+1)*benchBatch; i++ {
			q, _ := tok.Encode(cfg.QueryPrefix + en[i])
			p, _ := tok.Encode(cfg.PassagePrefix + de[i])
			tb.Queries, tb.Passages = append(tb.Queries, q), append(tb.Passages, p)
			tb.QLang, tb.PLang = append(tb.QLang, 0), append(tb.PLang, 1)
		}
	}
	return out
}

func benchSetup(b *testing.B) (Config, *hashbag.Model, []Tokenized) {
	b.Helper()
	// The default encoder: the normalised embedding bag (identity projection, frozen), no role prefixes.
	cfg := DefaultConfig()
	cfg.Threads, cfg.FreezeProjection, cfg.QueryPrefix, cfg.PassagePrefix = benchThreads, true, "", ""
	m := hashbag.NewRandom(ngram.DefaultConfig(), hashbag.DefaultDim, hashbag.DefaultDim, 1)
	if err := m.IdentityProjection(); err != nil {
		b.Fatal(err)
	}
	tok, err := ngram.New(m.Tokenizer)
	if err != nil {
		b.Fatal(err)
	}
	return cfg, m, benchData(b, cfg, tok)
}

// benchGo times steps of the Go trainer after warm-up and returns pairs per second.
func benchGo(b *testing.B, cfg Config, m *hashbag.Model, data []Tokenized) float64 {
	b.Helper()
	tr, err := NewTrainer(cfg, m)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for k := range benchWarmup {
		if _, err := tr.Step(&data[k%len(data)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for k := range b.N {
		if _, err := tr.Step(&data[k%len(data)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	pps := float64(b.N*benchBatch) / time.Since(start).Seconds()
	b.ReportMetric(pps, "pairs/s")
	return pps
}

// BenchmarkStep is the Go trainer's throughput on the default encoder (ngram.DefaultConfig,
// hashbag.DefaultDim, frozen identity projection), batch 256, no discriminator, 2 threads.
func BenchmarkStep(b *testing.B) {
	cfg, m, data := benchSetup(b)
	benchGo(b, cfg, m, data)
}

// BenchmarkStepWithDiscriminator adds the language discriminator (hidden 128) with the experiment's 9
// classes: XQuAD-R's 11 languages less its 2 held out (el, th).
func BenchmarkStepWithDiscriminator(b *testing.B) {
	cfg, m, data := benchSetup(b)
	cfg.Languages = []string{"ar", "de", "en", "es", "hi", "ru", "tr", "vi", "zh"}
	en, de := slices.Index(cfg.Languages, "en"), slices.Index(cfg.Languages, "de")
	for k := range data {
		for i := range data[k].QLang {
			data[k].QLang[i], data[k].PLang[i] = en, de
		}
	}
	benchGo(b, cfg, m, data)
}

// BenchmarkStepVsPyTorch takes turns (testenv.Interleave) between the Go trainer and its PyTorch peer
// (testdata/bench_peer.py: EmbeddingBag mean + normalize, the same lazy AdamW on the table, 2 threads), each
// turn one pass over the same benchBatches batches, after benchWarmup steps each; x-pytorch is the median
// over rounds of PyTorch's time over Go's.
func BenchmarkStepVsPyTorch(b *testing.B) {
	py := testenv.RequirePython(b, "torch", "numpy")
	cfg, m, data := benchSetup(b)
	dir := b.TempDir()
	writeBenchData(b, dir, cfg, m, data)
	tr, err := NewTrainer(cfg, m)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for k := range benchWarmup {
		if _, err := tr.Step(&data[k%len(data)]); err != nil {
			b.Fatal(err)
		}
	}
	ask := testenv.StartPeer(b, exec.Command(py, filepath.Join("testdata", "bench_peer.py"), dir))
	pytorch := func() float64 {
		reply := ask(strconv.Itoa(len(data)))
		sec, err := strconv.ParseFloat(reply, 64)
		if err != nil {
			b.Fatalf("bench_peer.py: reply %q: %v", reply, err)
		}
		return sec
	}
	b.ReportAllocs()
	xs, ps := testenv.Interleave(b, 0, func() {
		for k := range data {
			if _, err := tr.Step(&data[k]); err != nil {
				b.Fatal(err)
			}
		}
	}, testenv.Peer{Name: "pytorch", Run: pytorch})
	pairs := float64(len(data) * benchBatch)
	b.ReportMetric(pairs*float64(len(xs))/testenv.Sum(xs), "pairs/s")
	b.ReportMetric(pairs*float64(len(xs))/testenv.Sum(ps[0]), "pytorch-pairs/s")
}

// writeBenchData writes the batches and settings for bench_peer.py.
func writeBenchData(b *testing.B, dir string, cfg Config, m *hashbag.Model, data []Tokenized) {
	b.Helper()
	var ids, offs []byte
	n := int64(0)
	for _, tb := range data {
		for _, text := range append(append([][]int64{}, tb.Queries...), tb.Passages...) {
			offs = binary.LittleEndian.AppendUint64(offs, uint64(n))
			for _, id := range text {
				if id != 0 {
					ids = binary.LittleEndian.AppendUint64(ids, uint64(id))
					n++
				}
			}
		}
	}
	offs = binary.LittleEndian.AppendUint64(offs, uint64(n))
	meta, err := json.Marshal(map[string]any{
		"seed": 1, "threads": benchThreads, "batch": benchBatch, "batches": len(data), "warmup": benchWarmup,
		"buckets": m.Tokenizer.Buckets, "dim": m.Dim, "out": m.Out, "temperature": cfg.Temperature,
		"lr": cfg.LR, "beta1": cfg.Beta1, "beta2": cfg.Beta2, "eps": cfg.Eps, "weight_decay": cfg.WeightDecay,
		"freeze_projection": cfg.FreezeProjection,
	})
	if err != nil {
		b.Fatal(err)
	}
	for name, content := range map[string][]byte{"ids.i64": ids, "offsets.i64": offs, "bench.json": meta} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
