package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"xling/tokenizer/ngram"
	"xling/tokenizer/spm"
)

type unsized struct{}

func (unsized) Encode(string) ([]int64, []int64, bool, error) { return nil, nil, false, nil }

func TestVocabSizeComesFromTheTokenizersModel(t *testing.T) {
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1000
	ng, err := ngram.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  Tokenizer
		want int
	}{
		{"n-gram: its buckets", NGram{ng}, 1000},
		{"SentencePiece: its pieces", SentencePiece{M: &spm.Model{Pieces: make([]spm.Piece, 7)}}, 7},
		{"a tokenizer that does not say", unsized{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VocabSize(tc.tok); got != tc.want {
				t.Errorf("VocabSize = %d, want %d", got, tc.want)
			}
		})
	}
}

// A tokenizer.json that asks for fixed padding to 8, as sentence-transformers exports do (all-MiniLM-L6-v2's
// asks for 128): Load must give each text its own length, since the runner pads batches itself and the
// adapter returns no attention mask.
func TestLoadIgnoresTheFilesPadding(t *testing.T) {
	const tj = `{
  "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}, {"id": 2, "content": "[CLS]", "special": true},
                   {"id": 3, "content": "[SEP]", "special": true}],
  "normalizer": {"type": "BertNormalizer", "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
  "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_id": 0, "pad_type_id": 0},
  "truncation": {"max_length": 4, "strategy": "LongestFirst", "stride": 0},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "!": 6}}
}`
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(tj), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		maxLength int
		want      []int64
		truncated bool
	}{
		{0, []int64{2, 4, 3}, false},        // the file's own truncation (4) still holds when xling.json sets none
		{0, []int64{2, 4, 5, 3}, true},      // "hello world !" cut to the file's 4
		{16, []int64{2, 4, 5, 6, 3}, false}, // max_length replaces the file's truncation
	}
	texts := []string{"hello", "hello world !", "hello world !"}
	for i, c := range cases {
		tok, err := Load(path, c.maxLength)
		if err != nil {
			t.Fatal(err)
		}
		ids, types, truncated, err := tok.Encode(texts[i])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, c.want) || len(types) != len(ids) || truncated != c.truncated {
			t.Errorf("Load(max_length %d).Encode(%q) = %v types %v truncated %v, want %v truncated %v",
				c.maxLength, texts[i], ids, types, truncated, c.want, c.truncated)
		}
	}
}
