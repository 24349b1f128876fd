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
		{"file outside the directory", `{"pooling": "cls", "tokenizer": "../tokenizer.json"}`, wordPiece, "outside the model directory"},
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
