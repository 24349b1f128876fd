package hf_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"xling/tokenizer/hf"
	"xling/tokenizer/spm"
	"xling/tokenizer/spm/spmtest"
)

// BenchmarkEncode measures lines per second on the 11-language XQuAD-R sentences, and the same for
// @lenml/tokenizers (testdata/encode.mjs, timed in node after a warm-up pass), reporting the ratio.
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
		// One timed pass after warm-up (repeat=2 times both passes; take the rate over them).
		out, err := exec.Command(node, "testdata/encode.mjs", modules, c.path, c.config, linesFile, "2").Output()
		if err != nil {
			b.Fatalf("node timing %s: %v", c.name, err)
		}
		var js struct {
			LinesPerSec float64 `json:"lines_per_sec"`
		}
		if err := json.Unmarshal(out, &js); err != nil {
			b.Fatalf("node timing %s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, l := range lines {
					if _, err := tok.Encode(l, true); err != nil {
						b.Fatal(err)
					}
				}
			}
			rate := float64(b.N*len(lines)) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "lines/s")
			b.ReportMetric(js.LinesPerSec, "lenml_lines/s")
			b.ReportMetric(rate/js.LinesPerSec, "x_vs_lenml")
		})
	}
}
