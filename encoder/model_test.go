package encoder

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A WordPiece tokenizer.json small enough to read: [CLS] hello world [SEP] -> 1 3 4 2.
const wordPiece = `{
  "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
  "decoder": null,
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
    "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "world": 4, "##s": 5}}
}`

func modelDir(t *testing.T, config, tok string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"xling.json": config, "tokenizer.json": tok, "model.onnx": "not read by Load"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadModelDirectory(t *testing.T) {
	dir := modelDir(t, `{"name": "bert-test", "pooling": "cls", "normalize": true, "query_prefix": "query: ", "max_length": 3}`, wordPiece)
	spec, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{filepath.Join(dir, "xling.json"), filepath.Join(dir, "model.onnx"), filepath.Join(dir, "tokenizer.json")}
	if spec.Path != filepath.Join(dir, "model.onnx") || spec.Name != "bert-test" || spec.QueryPrefix != "query: " || !reflect.DeepEqual(spec.Files, wantFiles) {
		t.Errorf("spec = %+v", spec)
	}
	tok, err := spec.NewTokenizer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, truncated, err := tok.Encode("Hello worlds")
	if err != nil {
		t.Fatal(err)
	}
	// max_length 3 counts [CLS] and [SEP]: one word piece fits, and the cut is reported.
	if want := []int64{1, 3, 2}; !reflect.DeepEqual(ids, want) || !truncated {
		t.Errorf("ids %v truncated %v, want %v true", ids, truncated, want)
	}
}

func TestLoadRejectsBadModelDirectories(t *testing.T) {
	tests := []struct {
		name, config, tok, want string
	}{
		{"unknown pooling", `{"pooling": "max"}`, wordPiece, `pooling "max"`},
		{"unknown config field", `{"pooling": "cls", "poolling": "x"}`, wordPiece, "poolling"},
		{"unsupported tokenizer component", `{"pooling": "cls"}`, strings.Replace(wordPiece, `"BertPreTokenizer"`, `"Punctuation"`, 1), "Punctuation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(modelDir(t, tc.config, tc.tok))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// Every file xling.json names, and xling.json itself, must lie inside the model directory, symbolic links
// followed: a downloaded model directory cannot make xling read elsewhere.
func TestLoadKeepsFilesInsideTheModelDirectory(t *testing.T) {
	outside := t.TempDir()
	for name, body := range map[string]string{"tokenizer.json": wordPiece, "model.onnx": "x", "xling.json": `{"pooling": "cls"}`} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, config string
		link         map[string]string // symbolic links made in the directory, name -> target ({outside}: a relative path there)
		want         string            // the error; "" if it loads
	}{
		{name: "a parent path", config: `{"pooling": "cls", "tokenizer": "../tokenizer.json"}`, want: `tokenizer: "../tokenizer.json" is not a path inside`},
		{name: "a climbing path", config: `{"pooling": "cls", "model": "sub/../../model.onnx"}`, want: "model: \"sub/../../model.onnx\" is not a path inside"},
		{name: "an absolute path", config: `{"pooling": "cls", "model": "` + filepath.Join(outside, "model.onnx") + `"}`, want: "is not a path inside"},
		{name: "a model linked out", config: `{"pooling": "cls", "model": "linked.onnx"}`, link: map[string]string{"linked.onnx": filepath.Join(outside, "model.onnx")}, want: "linked.onnx leads out of"},
		{name: "a tokenizer linked out", config: `{"pooling": "cls", "tokenizer": "t.json"}`, link: map[string]string{"t.json": "{outside}/tokenizer.json"}, want: "t.json leads out of"},
		{name: "xling.json linked out", link: map[string]string{"xling.json": filepath.Join(outside, "xling.json")}, want: "xling.json leads out of"},
		{name: "a link inside", config: `{"pooling": "cls", "model": "linked.onnx"}`, link: map[string]string{"linked.onnx": "model.onnx"}},
		{name: "a file that is not there", config: `{"pooling": "cls", "model": "sub/model.onnx"}`, want: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := modelDir(t, tc.config, wordPiece)
			rel, err := filepath.Rel(dir, outside)
			if err != nil {
				t.Fatal(err)
			}
			for name, target := range tc.link {
				target = strings.ReplaceAll(target, "{outside}", rel)
				os.Remove(filepath.Join(dir, name))
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			_, err = Load(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "load model") {
				t.Errorf("err = %v, want a load model error saying %q", err, tc.want)
			}
		})
	}
}

// Model directories (transformers) spin unless xling.json says not to; xling's own model files do not.
func TestSessionConfigSpin(t *testing.T) {
	own := filepath.Join(t.TempDir(), "own.onnx")
	if err := os.WriteFile(own, []byte("not read by Load"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       bool
	}{
		{"model directory, default", modelDir(t, `{"pooling": "mean"}`, wordPiece), true},
		{"model directory, spin false", modelDir(t, `{"pooling": "mean", "spin": false}`, wordPiece), false},
		{"xling model file", own, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Load(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := spec.SessionConfig(2, "cpu").Spin; got != tc.want {
				t.Errorf("Spin = %v, want %v", got, tc.want)
			}
		})
	}
}
