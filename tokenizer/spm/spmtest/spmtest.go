// Package spmtest trains and runs Debian's sentencepiece tools on the shared multilingual data, the
// independent reference that xling's tokenizer tests compare against.
package spmtest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// Languages are the 11 languages of XQuAD-R, with their FLORES-200 file names.
var Languages = map[string]string{
	"ar": "arb_Arab", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "hi": "hin_Deva",
	"ru": "rus_Cyrl", "th": "tha_Thai", "tr": "tur_Latn", "vi": "vie_Latn", "zh": "zho_Hans",
}

// maxSentenceBytes bounds one sentence read from the datasets.
const maxSentenceBytes = 1 << 16

// CacheDir is the git-ignored directory that trained models and fetched tokenizers live in.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), ".cache", "tokenizers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create cache dir: %v", err)
	}
	return dir
}

// sortedLangs returns the language codes in a fixed order.
func sortedLangs() []string {
	var ls []string
	for l := range Languages {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	return ls
}

// TrainingFile writes the FLORES-200 devtest sentences of all languages to one file in the cache.
func TrainingFile(t testing.TB) string {
	t.Helper()
	data := testenv.DataDir(t)
	var all bytes.Buffer
	for _, l := range sortedLangs() {
		p := filepath.Join(data, "bitext", "flores200-devtest", Languages[l]+".devtest")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read training text: %v", err)
		}
		all.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			all.WriteByte('\n')
		}
	}
	sum := sha256.Sum256(all.Bytes())
	p := filepath.Join(CacheDir(t), "flores-"+hex.EncodeToString(sum[:8])+".txt")
	if _, err := os.Stat(p); err != nil {
		if err := os.WriteFile(p, all.Bytes(), 0o644); err != nil {
			t.Fatalf("write training text: %v", err)
		}
	}
	return p
}

// Sentences returns up to perLang candidate sentences of XQuAD-R for every language (the text the
// tests encode; it is not the training text, so it has characters the models never saw).
func Sentences(t testing.TB, perLang int) []string {
	t.Helper()
	out := testenv.Sentences(t, perLang)
	for i, s := range out {
		if len(s) > maxSentenceBytes {
			t.Fatalf("xquad-r sentence %q... is %d bytes, over %d", s[:32], len(s), maxSentenceBytes)
		}
		// One sentence a line: the tools read lines.
		out[i] = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	}
	return out
}

// Train runs spm_train on the training file (once; the model is cached) and returns the .model path.
func Train(t testing.TB, args ...string) string {
	t.Helper()
	tool := testenv.RequireTool(t, "spm_train")
	input := TrainingFile(t)
	key := sha256.Sum256([]byte(input + "\x00" + strings.Join(args, "\x00")))
	prefix := filepath.Join(CacheDir(t), "spm-"+hex.EncodeToString(key[:8]))
	if _, err := os.Stat(prefix + ".model"); err == nil {
		return prefix + ".model"
	}
	tmp := prefix + ".tmp"
	cmd := exec.Command(tool, append([]string{"--input=" + input, "--model_prefix=" + tmp, "--num_threads=2", "--minloglevel=2"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spm_train %v: %v\n%s", args, err, out)
	}
	if err := os.Rename(tmp+".model", prefix+".model"); err != nil {
		t.Fatalf("keep trained model: %v", err)
	}
	os.Remove(tmp + ".vocab")
	return prefix + ".model"
}

// Encode runs spm_encode --output_format=id over lines and returns one id list per line.
func Encode(t testing.TB, model string, lines []string) [][]int64 {
	t.Helper()
	tool := testenv.RequireTool(t, "spm_encode")
	cmd := exec.Command(tool, "--model="+model, "--output_format=id")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spm_encode: %v", err)
	}
	return ParseIDLines(t, out, len(lines))
}

// ParseIDLines parses want lines of space-separated ids.
func ParseIDLines(t testing.TB, out []byte, want int) [][]int64 {
	t.Helper()
	var res [][]int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ids []int64
		for _, f := range strings.Fields(sc.Text()) {
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("reference line %d: %v", len(res)+1, err)
			}
			ids = append(ids, id)
		}
		res = append(res, ids)
	}
	if len(res) != want {
		t.Fatalf("reference printed %d lines for %d inputs", len(res), want)
	}
	return res
}

// Compare counts the lines whose ids are identical and logs the first few differences.
func Compare(t testing.TB, name string, lines []string, got, want [][]int64) int {
	t.Helper()
	same, shown := 0, 0
	for i := range want {
		if slices.Equal(got[i], want[i]) {
			same++
			continue
		}
		if shown < 3 {
			shown++
			t.Logf("%s line %d differs:\n text %q\n got  %v\n want %v", name, i, lines[i], got[i], want[i])
		}
	}
	return same
}

// Row formats one conformance-table row.
func Row(reference, model string, lines, same int) string {
	return fmt.Sprintf("| %s | %s | %d | %.2f%% |", reference, model, lines, 100*float64(same)/float64(max(lines, 1)))
}
