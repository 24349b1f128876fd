package ngram

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"xling/internal/testenv"
)

// floresFiles covers all 11 languages of the project, including the scripts without spaces.
var floresFiles = []string{
	"arb_Arab", "deu_Latn", "ell_Grek", "eng_Latn", "hin_Deva", "rus_Cyrl",
	"spa_Latn", "tha_Thai", "tur_Latn", "vie_Latn", "zho_Hans",
}

// floresLines reads the first n lines of every language's FLORES-200 devtest file.
func floresLines(t testing.TB, n int) []string {
	t.Helper()
	dir := filepath.Join(testenv.DataDir(t), "bitext", "flores200-devtest")
	var lines []string
	for _, name := range floresFiles {
		path := filepath.Join(dir, name+".devtest")
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		sc := bufio.NewScanner(f)
		for i := 0; i < n && sc.Scan(); i++ {
			lines = append(lines, sc.Text())
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
	}
	return lines
}

type refResult struct {
	IDs       []int64
	Truncated bool
}

func (r *refResult) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if err := json.Unmarshal(pair[0], &r.IDs); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &r.Truncated)
}

// pythonEncode runs the independent Python implementation of the spec.
func pythonEncode(t *testing.T, cfg Config, texts []string) []refResult {
	t.Helper()
	py := testenv.RequirePython(t)
	req, err := json.Marshal(map[string]any{"config": cfg, "texts": texts})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "ngram_ref.py"))
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python reference: %v\n%s", err, stderr.String())
	}
	var res []refResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode python reference output: %v", err)
	}
	if len(res) != len(texts) {
		t.Fatalf("python reference returned %d results for %d texts", len(res), len(texts))
	}
	return res
}

func TestEncodeMatchesPythonReference(t *testing.T) {
	texts := append(floresLines(t, 30),
		"",
		"   \t\n",
		"İstanbul'da ΣΟΦΟΣ ΟΔΥΣΣΕΥΣ straße", // simple case mapping: İ -> i, no final sigma
		"x² ½ ٣٤ १२३ 一二三 Ⅻ",                 // Nd, No and Nl numbers
		"नमस्ते दुनिया, สวัสดีชาวโลก",       // marks inside Hindi and Thai words
		"a-b_c.d😀e\u200bf",                  // punctuation, emoji and zero-width space separate words
		"我们在北京大学学习中文和数学，然后去上海工作。",           // a long run without spaces
		"ъ Ъ, ्ा x ъь y",                    // words that romanize to nothing, alone and beside others
		"Ёлка ΆΘΗΝΑ ٢٠٢٤ ๒๕๖๗ ज़िंदगी",      // upper case before the table, digits, a precomposed nukta
	)
	configs := []Config{
		DefaultConfig(),
		{Buckets: 1000, MinN: 2, MaxN: 3, MaxTokens: 40, Seed: 7},
		{Buckets: 2, MinN: 3, MaxN: 6, MaxTokens: 5, Seed: 1 << 63},
		{Buckets: 1 << 18, MinN: 1, MaxN: 4, MaxTokens: 2048, Seed: 9, Span: SpanText},
		{Buckets: 1000, MinN: 2, MaxN: 5, MaxTokens: 40, Seed: 7, Span: SpanText},
		{Buckets: 1 << 18, MinN: 1, MaxN: 4, MaxTokens: 2048, Seed: 9, Span: SpanTextWords},
		{Buckets: 1000, MinN: 1, MaxN: 3, MaxTokens: 7, Seed: 7, Span: SpanTextWords},
		{Buckets: 1 << 18, MinN: 1, MaxN: 4, MaxTokens: 2048, Seed: 9, Span: SpanText, Unique: true},
		{Buckets: 50, MinN: 1, MaxN: 3, MaxTokens: 30, Seed: 2, Span: SpanWord, Unique: true},
		{Buckets: 1 << 18, MinN: 1, MaxN: 4, MaxTokens: 2048, Seed: 9, Span: SpanText, Romanize: true},
		{Buckets: 1000, MinN: 1, MaxN: 3, MaxTokens: 7, Seed: 7, Span: SpanTextWords, Romanize: true},
		{Buckets: 1000, MinN: 2, MaxN: 4, MaxTokens: 60, Seed: 7, Span: SpanWord, Romanize: true},
	}
	for _, cfg := range configs {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			tok, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := pythonEncode(t, cfg, texts)
			var truncated int
			for i, text := range texts {
				ids, trunc := tok.Encode(text)
				if !slices.Equal(ids, want[i].IDs) || trunc != want[i].Truncated {
					t.Fatalf("text %d %q:\n go     %v truncated=%v\n python %v truncated=%v",
						i, text, ids, trunc, want[i].IDs, want[i].Truncated)
				}
				if trunc {
					truncated++
				}
			}
			t.Logf("%d texts identical, %d truncated", len(texts), truncated)
		})
	}
}

func TestEncodeHandWorked(t *testing.T) {
	cfg := Config{Buckets: 1 << 20, MinN: 1, MaxN: 2, MaxTokens: 100, Seed: 3}
	tok, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := tok.Encode("ab")
	// word "ab"; n-grams of "<ab>": "<a" | "a" "ab" | "b" "b>"  (bare "<" and ">" skipped)
	if len(ab) != 6 {
		t.Fatalf("Encode(ab) = %d ids, want 6", len(ab))
	}
	ba, _ := tok.Encode("ba")
	// "a" and "b" are 1-grams of both words: position 2 of "ab" is "a", position 4 of "ba" is "a".
	if ab[2] != ba[4] || ab[4] != ba[2] {
		t.Errorf("shared 1-grams differ: ab=%v ba=%v", ab, ba)
	}
	tests := []struct {
		name, a, b string
	}{
		{"case is folded", "AB Cd", "ab cD"},
		{"punctuation separates words", "ab, cd!", "ab cd"},
		{"whitespace runs are one separator", "  ab \t\n cd ", "ab cd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, _ := tok.Encode(tt.a)
			y, _ := tok.Encode(tt.b)
			if !slices.Equal(x, y) {
				t.Errorf("Encode(%q) = %v, Encode(%q) = %v", tt.a, x, tt.b, y)
			}
		})
	}
	two, _ := tok.Encode("ab ab")
	if !slices.Equal(two, append(slices.Clone(ab), ab...)) {
		t.Errorf("Encode(ab ab) = %v, want Encode(ab) twice", two)
	}
	for _, id := range two {
		if id < 1 || id >= int64(cfg.Buckets) {
			t.Errorf("id %d outside [1, %d)", id, cfg.Buckets)
		}
	}
}

func TestTextSpanHandWorked(t *testing.T) {
	cfg := Config{Buckets: 1 << 20, MinN: 1, MaxN: 3, MaxTokens: 100, Seed: 3, Span: SpanText}
	encode := func(span, text string) []int64 {
		t.Helper()
		c := cfg
		c.Span = span
		tok, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := tok.Encode(text)
		return ids
	}
	// " ab ": " a" " ab" | "a" "ab" "ab " | "b" "b " | (bare " " skipped) = 7 ids.
	text := encode(SpanText, "ab")
	// word id | "<a" "<ab" | "a" "ab" "ab>" | "b" "b>" = 8 ids.
	word := encode(SpanWord, "ab")
	if len(text) != 7 || len(word) != 8 {
		t.Fatalf("text span %d ids, word span %d; want 7 and 8", len(text), len(word))
	}
	// The n-grams inside the word hash alike in both spans: "a", "ab", "b".
	if text[2] != word[3] || text[3] != word[4] || text[5] != word[6] {
		t.Errorf("shared n-grams differ: text=%v word=%v", text, word)
	}
	// " ab cd ": 2 + 3 + 3 ("b", "b ", "b c") + 2 + 3 + 2 = 15 ids, among them "b c" across the boundary.
	abcd := encode(SpanText, "ab cd")
	if len(abcd) != 15 {
		t.Fatalf("Encode(ab cd) = %d ids, want 15", len(abcd))
	}
	cdab := encode(SpanText, "cd ab")
	if slices.Equal(sorted(abcd), sorted(cdab)) {
		t.Errorf("text span: ab cd and cd ab give the same bag; the cross-word n-grams should differ")
	}
	if w1, w2 := encode(SpanWord, "ab cd"), encode(SpanWord, "cd ab"); !slices.Equal(sorted(w1), sorted(w2)) {
		t.Errorf("word span: ab cd and cd ab give different bags")
	}
	// text+words: the two word ids of the word span, then the text span's n-grams.
	both := encode(SpanTextWords, "ab cd")
	wordIDs := encode(SpanWord, "ab cd")
	if len(both) != 17 || both[0] != wordIDs[0] || both[1] != wordIDs[8] || !slices.Equal(both[2:], abcd) {
		t.Errorf("text+words = %v, want word ids %d %d then %v", both, wordIDs[0], wordIDs[8], abcd)
	}
	for _, span := range []string{SpanText, SpanTextWords} {
		for _, pair := range [][2]string{{"AB Cd", "ab cD"}, {"ab, cd!", "ab cd"}, {"  ab \t\n cd ", "ab cd"}} {
			if x, y := encode(span, pair[0]), encode(span, pair[1]); !slices.Equal(x, y) {
				t.Errorf("span %s: Encode(%q) = %v, Encode(%q) = %v", span, pair[0], x, pair[1], y)
			}
		}
	}
}

func sorted(x []int64) []int64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y
}

func TestEncodeTruncatesAtMaxTokens(t *testing.T) {
	// "ab cd" has 12 ids with MinN 1, MaxN 2 (6 per word, see TestEncodeHandWorked).
	tests := []struct {
		text      string
		maxTokens int
		wantLen   int
		wantTrunc bool
	}{
		{"ab cd", 12, 12, false},
		{"ab cd", 11, 11, true},
		{"ab cd", 6, 6, true},
		{"ab cd", 5, 5, true},
		{"ab !!", 6, 6, false},
		{"", 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d", tt.text, tt.maxTokens), func(t *testing.T) {
			tok, err := New(Config{Buckets: 100, MinN: 1, MaxN: 2, MaxTokens: tt.maxTokens})
			if err != nil {
				t.Fatal(err)
			}
			ids, trunc := tok.Encode(tt.text)
			if len(ids) != tt.wantLen || trunc != tt.wantTrunc {
				t.Errorf("got %d ids truncated=%v, want %d truncated=%v", len(ids), trunc, tt.wantLen, tt.wantTrunc)
			}
		})
	}
}

func TestEncodeEmptyTextGivesNoIDs(t *testing.T) {
	tok, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"", " ", "\t\n\r ", "...!?", "\u3000"} {
		if ids, trunc := tok.Encode(text); len(ids) != 0 || trunc {
			t.Errorf("Encode(%q) = %v, %v; want no ids", text, ids, trunc)
		}
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	ok := DefaultConfig()
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"one bucket", func(c *Config) { c.Buckets = 1 }},
		{"too many buckets", func(c *Config) { c.Buckets = 1<<30 + 1 }},
		{"zero min_n", func(c *Config) { c.MinN = 0 }},
		{"max_n below min_n", func(c *Config) { c.MinN, c.MaxN = 3, 2 }},
		{"huge max_n", func(c *Config) { c.MaxN = 1000 }},
		{"zero max_tokens", func(c *Config) { c.MaxTokens = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("New(%+v) succeeded, want error", cfg)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Errorf("New(DefaultConfig()) = %v", err)
	}
}

func BenchmarkEncode(b *testing.B) {
	lines := floresLines(b, 100)
	tok, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	var n int
	for _, l := range lines {
		n += len(l)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	var buf []int64
	for b.Loop() {
		for _, l := range lines {
			buf, _ = tok.Append(buf[:0], l)
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "texts/s")
}

func TestAppendDoesNotAllocatePerNGram(t *testing.T) {
	for _, span := range []string{SpanWord, SpanText, SpanTextWords} {
		cfg := DefaultConfig()
		cfg.Span, cfg.Unique = span, span == SpanText
		tok, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := "Les élèves de l'École normale étudient 42 théorèmes, नमस्ते दुनिया."
		buf := make([]int64, 0, 512)
		if n := testing.AllocsPerRun(100, func() { buf, _ = tok.Append(buf[:0], text) }); n != 0 {
			t.Errorf("span %s: Append allocated %v times per call, want 0", span, n)
		}
	}
}

func TestRomanizeHandWorked(t *testing.T) {
	base := Config{Buckets: 1 << 20, MinN: 1, MaxN: 3, MaxTokens: 200, Seed: 3, Span: SpanText}
	roman := base
	roman.Romanize = true
	encode := func(cfg Config, text string) []int64 {
		t.Helper()
		tok, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := tok.Encode(text)
		return ids
	}
	// Each pair was worked out by hand from romanize.tsv: the romanized text must give exactly the ids of
	// its Latin spelling.
	tests := []struct {
		name, text, latin string
	}{
		{"Cyrillic", "Москва, Щукин!", "moskva shchukin"},
		{"Cyrillic signs vanish", "объём подъезд", "obem podezd"},
		{"Greek with accents and final sigma", "Αθήνα, ΟΔΥΣΣΕΥΣ", "athina odysseys"},
		{"Arabic letters and digits", "القاهرة ٢٠٢٤", "alqahra 2024"},
		{"Arabic short vowels", "كَتَبَ", "kataba"},
		{"Devanagari without inherent vowels", "दिल्ली १९४७", "dilli 1947"},
		{"Devanagari nukta dropped (NFC keeps it apart)", "\u091c\u093c\u093f\u0902\u0926\u0917\u0940", "jindgi"},
		{"Devanagari precomposed nukta letter", "\u095b\u093f\u0902\u0926\u0917\u0940", "zindgi"},
		{"Thai in written order, tone marks dropped", "กรุงเทพ ๒๕๖๗", "krungethph 2567"},
		{"Thai leading vowel stays in front", "เมือง", "emueng"},
		{"a word of dropped runes is no word", "ъ x ъь y ्", "x y"},
		{"Latin and Chinese are untouched", "Zürich 北京", "zürich 北京"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := encode(roman, tt.text), encode(base, tt.latin)
			if !slices.Equal(got, want) {
				t.Errorf("romanized %q = %v\nwant the ids of %q = %v", tt.text, got, tt.latin, want)
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		if slices.Equal(encode(base, "Москва"), encode(base, "moskva")) {
			t.Error("without Romanize, Cyrillic hashes like its Latin spelling")
		}
	})
	t.Run("word span", func(t *testing.T) {
		w, wr := base, roman
		w.Span, wr.Span = SpanWord, SpanWord
		if got, want := encode(wr, "Ньютон"), encode(w, "nyuton"); !slices.Equal(got, want) {
			t.Errorf("word span: %v, want %v", got, want)
		}
	})
}
