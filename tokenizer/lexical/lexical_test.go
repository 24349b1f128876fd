package lexical

import (
	"hash/fnv"
	"math"
	"slices"
	"testing"
)

// The expectations are worked by hand from the Unicode properties of each character.
func TestTermsSplitsEveryScript(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"en: lowercased, split on punctuation", "The Quick-brown fox's 2 jumps!", []string{"the", "quick", "brown", "fox", "s", "2", "jumps"}},
		{"de: full case folding (ß is ss)", "Straße ÜBER Maß", []string{"strasse", "über", "mass"}},
		{"ru: Cyrillic words", "Москва — столица России.", []string{"москва", "столица", "россии"}},
		{"ar: words, harakat kept in their word", "القاهرة عاصمة مصر كَتَبَ", []string{"القاهرة", "عاصمة", "مصر", "كَتَبَ"}},
		{"hi: vowel signs and virama stay in the word", "हिन्दी भाषा।", []string{"हिन्दी", "भाषा"}},
		{"el: final sigma folds to sigma, accents kept", "Η Αθήνα, ΟΔΟΣ οδός", []string{"η", "αθήνα", "οδοσ", "οδόσ"}},
		{"zh: overlapping bigrams", "北京是中国的首都。", []string{"北京", "京是", "是中", "中国", "国的", "的首", "首都"}},
		{"zh: a lone character is its own term", "我 爱 你", []string{"我", "爱", "你"}},
		{"zh: digits and Latin break the run", "iPhone手机2024年", []string{"iphone", "手机", "2024", "年"}},
		{"th: bigrams of letters", "ภาษาไทย", []string{"ภา", "าษ", "ษา", "าไ", "ไท", "ทย"}},
		{"th: a mark belongs to its character", "ที่นี่ ดี", []string{"ที่นี่", "ดี"}},
		{"ja: kanji, katakana and hiragana in one run, the prolonged sound mark included", "東京タワーへ", []string{"東京", "京タ", "タワ", "ワー", "ーへ"}},
		{"ja: halfwidth katakana normalised (NFKC)", "ｶﾀｶﾅ", []string{"カタ", "タカ", "カナ"}},
		{"ko: Hangul is written with spaces", "한국어 사전", []string{"한국어", "사전"}},
		{"fullwidth and ligatures normalised", "ＡＢＣ１２３ ﬁle", []string{"abc123", "file"}},
		{"nothing to index", " ... !? ", nil},
	}
	tok := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tok.Terms(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Terms(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestEncodeHashesEachTerm(t *testing.T) {
	tok := New()
	ids, types, truncated, err := tok.Encode("Ab 北京是")
	if err != nil || types != nil || truncated {
		t.Fatalf("Encode: types %v, truncated %v, err %v", types, truncated, err)
	}
	var want []int64
	for _, term := range []string{"ab", "北京", "京是"} {
		h := fnv.New64a() // the standard library's FNV-1a, an independent implementation
		h.Write([]byte(term))
		want = append(want, int64(h.Sum64()&math.MaxInt64))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	// The published FNV-1a 64 test vector for "a" is 0xaf63dc4c8601ec8c; the top bit is cleared.
	if got := ID("a"); got != 0x2f63dc4c8601ec8c {
		t.Errorf("ID(a) = %#x, want 0x2f63dc4c8601ec8c", got)
	}
}
