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
	if spec.Path != filepath.Join(dir, "model.onnx") || spec.Name != "bert-test" || spec.QueryPrefix != "query: " {
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
