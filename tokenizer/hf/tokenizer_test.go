package hf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A tiny WordPiece tokenizer whose ids can be worked out by hand.
const tinyWordPiece = `{
  "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}, {"id": 2, "content": "[CLS]", "special": true},
                   {"id": 3, "content": "[SEP]", "special": true}],
  "normalizer": {"type": "BertNormalizer", "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
  "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_id": 0, "pad_type_id": 0},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "!": 6, "wor": 7, "##ld": 8, "ς": 9, "σ": 10}}
}`

func TestEncodeWorkedExamples(t *testing.T) {
	tok, err := Parse([]byte(tinyWordPiece))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		text      string
		special   bool
		maxLen    int
		ids, mask []int64
		truncated bool
	}{
		{"special tokens and padding", "Héllo WORLD!", true, 0, []int64{2, 4, 5, 6, 3, 0, 0, 0}, []int64{1, 1, 1, 1, 1, 0, 0, 0}, false},
		{"no special tokens", "hello world", false, 0, []int64{4, 5, 0, 0, 0, 0, 0, 0}, []int64{1, 1, 0, 0, 0, 0, 0, 0}, false},
		{"unknown word is one [UNK]", "hello xyz", false, 0, []int64{4, 1, 0, 0, 0, 0, 0, 0}, []int64{1, 1, 0, 0, 0, 0, 0, 0}, false},
		{"truncation keeps room for specials", "hello world ! hello", true, 4, []int64{2, 4, 5, 3, 0, 0, 0, 0}, []int64{1, 1, 1, 1, 0, 0, 0, 0}, true},
		{"exact fit is not truncated", "hello world", true, 4, []int64{2, 4, 5, 3, 0, 0, 0, 0}, []int64{1, 1, 1, 1, 0, 0, 0, 0}, false},
		{"final sigma lowercases to ς", "Σ ΣΣ", false, 0, []int64{10, 1, 0, 0, 0, 0, 0, 0}, []int64{1, 1, 0, 0, 0, 0, 0, 0}, false},
		{"added token in the text", "hello[SEP]world", false, 0, []int64{4, 3, 5, 0, 0, 0, 0, 0}, []int64{1, 1, 1, 0, 0, 0, 0, 0}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok.SetTruncation(c.maxLen)
			e, err := tok.Encode(c.text, c.special)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.IDs, c.ids) || !slices.Equal(e.AttentionMask, c.mask) || e.Truncated != c.truncated {
				t.Errorf("Encode(%q) = %v mask %v truncated %v, want %v mask %v truncated %v",
					c.text, e.IDs, e.AttentionMask, e.Truncated, c.ids, c.mask, c.truncated)
			}
		})
	}
}

func TestHandPatternsSplitLikeTheRegex(t *testing.T) {
	// Expected splits worked out by hand from the regexes' alternatives, in order.
	cases := []struct {
		pattern handPattern
		text    string
		want    []string
	}{
		{gpt2Pattern, "Hello world's  end 123!!", []string{"Hello", " world", "'s", " ", " end", " 123", "!!"}},
		{gpt2Pattern, "a  \n", []string{"a", "  \n"}},
		{qwenPattern, "I'M 2024 (ok)\n\n  x", []string{"I", "'M", " ", "2", "0", "2", "4", " (", "ok", ")\n\n", " ", " x"}},
		{cl100kPattern, "12345 abc", []string{"123", "45", " abc"}},
		{qwenPattern, "x \t\n y", []string{"x", " \t\n", " y"}},
	}
	for _, c := range cases {
		if got := splitPattern(c.text, c.pattern); !slices.Equal(got, c.want) {
			t.Errorf("split %q = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestByteLevelMapsGPT2Bytes(t *testing.T) {
	// GPT-2's table: space is Ġ (U+0120), newline Ċ (U+010A), 0xAD is U+0143, printable bytes are themselves.
	if got := byteLevelEncode(" \n\xad~é"); got != "ĠĊŃ~Ã©" {
		t.Errorf("byteLevelEncode = %q", got)
	}
}

func TestLoadNamesUnsupportedComponent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokenizer.json")
	body := strings.Replace(tinyWordPiece, `"type": "BertPreTokenizer"`, `"type": "Punctuation"`, 1)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `pre_tokenizer type "Punctuation"`) {
		t.Errorf("Load error = %v, want one naming %s and the pre_tokenizer type", err, p)
	}
}

// VocabSize bounds every id an encoding can hold, the model's, the added tokens' and the special
// tokens' alike: the encode stage rejects records with ids past it.
func TestVocabSizeCountsEveryKindOfID(t *testing.T) {
	tests := []struct {
		name string
		json string
		want int
	}{
		{"the model's vocabulary", tinyWordPiece, 11},
		{"an added token past it", strings.Replace(tinyWordPiece, `{"id": 3, "content": "[SEP]", "special": true}`,
			`{"id": 3, "content": "[SEP]", "special": true}, {"id": 40, "content": "<x>", "special": true}`, 1), 41},
		{"a post-processor token past it", strings.Replace(tinyWordPiece, `"cls": ["[CLS]", 2]`, `"cls": ["[CLS]", 20]`, 1), 21},
		{"a padding id past it", strings.Replace(tinyWordPiece, `"pad_id": 0`, `"pad_id": 30`, 1), 31},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.VocabSize(); got != tc.want {
				t.Errorf("VocabSize() = %d, want %d", got, tc.want)
			}
		})
	}
}
