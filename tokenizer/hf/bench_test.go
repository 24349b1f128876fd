package hf_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"xling/internal/testenv"
	"xling/tokenizer/hf"
	"xling/tokenizer/spm"
	"xling/tokenizer/spm/spmtest"
)

// BenchmarkEncode measures lines per second on the 11-language XQuAD-R sentences, taking turns with
// @lenml/tokenizers (testdata/encode.mjs in serve mode: one pass over the same lines per turn, timed in
// node) after two warm-up passes each; x-lenml is the median over rounds of node's time over xling's.
func BenchmarkEncode(b *testing.B) {
	node, modules := lenml(b)
	lines := spmtest.Sentences(b, linesPerLanguage)
	linesFile := writeLines(b, lines)
	pkg := func(name string) (string, string) {
		dir := filepath.Join(modules, "@lenml", name, "models")
		return filepath.Join(dir, "tokenizer.json"), filepath.Join(dir, "tokenizer_config.json")
	}
	m, err := spm.Load(spmtest.Train(b, "--model_type=unigram", "--vocab_size=8000"))
	if err != nil {
		b.Fatal(err)
	}
	qwen, qwenCfg := pkg("tokenizer-qwen3")
	gemma, gemmaCfg := pkg("tokenizer-gemma3")
	cases := []struct{ name, path, config string }{
		{"qwen3", qwen, qwenCfg},
		{"gemma3", gemma, gemmaCfg},
		{"wordpiece", wordPieceFromSPM(b, m), "-"},
		{"unigram", convertSPM(b, m), "-"},
	}
	for _, c := range cases {
		tok, err := hf.Load(c.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			ask := testenv.StartPeer(b, exec.Command(node, "testdata/encode.mjs", modules, c.path, c.config, linesFile, "serve"))
			lenmlPass := func() float64 {
				reply := ask("pass")
				sec, err := strconv.ParseFloat(reply, 64)
				if err != nil {
					b.Fatalf("encode.mjs %s: reply %q: %v", c.name, reply, err)
				}
				return sec
			}
			xs, peers := testenv.Interleave(b, 2, func() {
				for _, l := range lines {
					if _, err := tok.Encode(l, true); err != nil {
						b.Fatal(err)
					}
				}
			}, testenv.Peer{Name: "lenml", Run: lenmlPass})
			b.ReportMetric(float64(len(xs)*len(lines))/testenv.Sum(xs), "lines/s")
			b.ReportMetric(float64(len(xs)*len(lines))/testenv.Sum(peers[0]), "lenml-lines/s")
		})
	}
}
