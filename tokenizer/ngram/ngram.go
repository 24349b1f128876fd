package ngram

import (
	_ "embed"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// romanizeTSV is the romanization table of Config.Romanize, part of the specification.
//
//go:embed romanize.tsv
var romanizeTSV string

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211

	kindWord  = 'w'
	kindNGram = 'g'

	// maxBuckets keeps ids (and embedding tables) in a sane range.
	maxBuckets = 1 << 30
	// maxN bounds the n-gram loop; longer n-grams carry nothing words do not.
	maxN = 32
)

// DefaultConfig is the configuration of xling's default encoder.
func DefaultConfig() Config {
	// "xling"; 2048 ids cover 99% of sentences (about 4 ids a character). N-grams across word boundaries,
	// 2^18 buckets and romanization were chosen on MLQA-R validation questions (docs/tuning.md), which hold
	// only two of the scripts romanization rewrites (Arabic, Devanagari).
	return Config{Buckets: 1 << 18, MinN: 1, MaxN: 4, MaxTokens: 2048, Seed: 0x786c696e67, Span: SpanText, Romanize: true}
}

// Validate reports, naming it (by its name in the model's metadata), the first field of c that New cannot
// use.
func (c Config) Validate() error {
	switch {
	case c.Buckets < 2 || c.Buckets > maxBuckets:
		return fmt.Errorf("ngram config: buckets %d outside [2, %d]", c.Buckets, maxBuckets)
	case c.MinN < 1:
		return fmt.Errorf("ngram config: min_n %d < 1", c.MinN)
	case c.MaxN < c.MinN || c.MaxN > maxN:
		return fmt.Errorf("ngram config: max_n %d outside [min_n=%d, %d]", c.MaxN, c.MinN, maxN)
	case c.MaxTokens < 1:
		return fmt.Errorf("ngram config: max_tokens %d < 1", c.MaxTokens)
	case c.Span != "" && c.Span != SpanWord && c.Span != SpanText && c.Span != SpanTextWords:
		return fmt.Errorf("ngram config: span %q, want %q, %q or %q", c.Span, SpanWord, SpanText, SpanTextWords)
	}
	return nil
}

// Tokenizer maps text to ids. It is immutable and safe for concurrent use.
type Tokenizer struct {
	cfg       Config
	roman     *romanizer // nil without Config.Romanize
	wordState uint64     // FNV-1a state after the seed and kind bytes, so each id hashes only its text
	gramState uint64
}

// New returns a tokenizer for cfg after validating it.
func New(cfg Config) (*Tokenizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := uint64(fnvOffset)
	for i := range 8 {
		h = (h ^ uint64(byte(cfg.Seed>>(8*i)))) * fnvPrime
	}
	var roman *romanizer
	if cfg.Romanize {
		var err error
		if roman, err = parseRomanizer(romanizeTSV); err != nil {
			return nil, err
		}
	}
	return &Tokenizer{
		cfg:       cfg,
		roman:     roman,
		wordState: (h ^ kindWord) * fnvPrime,
		gramState: (h ^ kindNGram) * fnvPrime,
	}, nil
}

// Config returns the tokenizer's configuration.
func (t *Tokenizer) Config() Config { return t.cfg }

// Encode returns the ids of text; truncated reports that ids beyond MaxTokens were dropped.
func (t *Tokenizer) Encode(text string) (ids []int64, truncated bool) {
	// Each rune starts at most MaxN-MinN+1 n-grams, and each word adds one id.
	n := (t.cfg.MaxN - t.cfg.MinN + 2) * (utf8.RuneCountInString(text) + 1)
	return t.Append(make([]int64, 0, min(n, t.cfg.MaxTokens)), text)
}

// Append is Encode appending to dst, so callers can reuse a buffer.
func (t *Tokenizer) Append(dst []int64, text string) ([]int64, bool) {
	start := len(dst)
	dst, truncated := t.appendSpan(dst, text)
	if t.cfg.Unique {
		slices.Sort(dst[start:])
		dst = dst[:start+len(slices.Compact(dst[start:]))]
	}
	return dst, truncated
}

func (t *Tokenizer) appendSpan(dst []int64, text string) ([]int64, bool) {
	switch t.cfg.Span {
	case SpanText:
		return t.appendText(dst, len(dst)+t.cfg.MaxTokens, text)
	case SpanTextWords:
		limit := len(dst) + t.cfg.MaxTokens
		dst, dropped := t.appendWords(dst, limit, text, false)
		if dropped {
			return dst, true
		}
		return t.appendText(dst, limit, text)
	}
	return t.appendWords(dst, len(dst)+t.cfg.MaxTokens, text, true)
}

// appendWords appends, for each word of text, its word id and (with grams) the n-grams of its bracketed
// form, up to limit.
func (t *Tokenizer) appendWords(dst []int64, limit int, text string, grams bool) ([]int64, bool) {
	// word holds "<" + lower-cased word + ">"; offs the byte offset of each of its runes, plus the
	// end. The arrays keep ordinary words off the heap.
	var wordBuf [256]byte
	var offBuf [64]int
	word, offs := wordBuf[:0], offBuf[:0]
	inWord := false
	for i := 0; i <= len(text); {
		r, size := rune(-1), 1 // the end of text closes the last word
		if i < len(text) {
			r, size = utf8.DecodeRuneInString(text[i:])
			r = unicode.ToLower(r)
		}
		i += size
		if r >= 0 && isWordRune(r) {
			latin, romanized := t.roman.latin(r)
			if romanized && latin == "" {
				continue // a dropped rune neither starts nor ends a word
			}
			if !inWord {
				if len(dst) == limit {
					return dst, true
				}
				word, offs = append(word[:0], '<'), append(offs[:0], 0)
				inWord = true
			}
			if !romanized {
				offs = append(offs, len(word))
				word = utf8.AppendRune(word, r)
				continue
			}
			for k := range len(latin) { // ASCII: a byte is a rune
				offs = append(offs, len(word))
				word = append(word, latin[k])
			}
			continue
		}
		if !inWord {
			continue
		}
		inWord = false
		offs = append(offs, len(word))
		word = append(word, '>')
		offs = append(offs, len(word))
		var dropped bool
		if grams {
			dst, dropped = t.appendWord(dst, limit, word, offs)
		} else if dropped = len(dst) == limit; !dropped {
			dst = append(dst, 1+int64(hashBytes(t.wordState, word[1:len(word)-1])%uint64(t.cfg.Buckets-1)))
		}
		if dropped {
			return dst, true
		}
	}
	return dst, false
}

// appendText appends the n-grams of " " + words + " " (words joined by single spaces) up to limit. It
// streams: a window holds the last MaxN runes of that string, and each rune leaving the window's front
// starts its n-grams.
func (t *Tokenizer) appendText(dst []int64, limit int, text string) ([]int64, bool) {
	var win [maxN]rune
	head, size := 0, 0    // window: win[(head+k) % maxN] for k < size
	emit := func() bool { // the n-grams starting at the window's front; false when limit is reached
		buckets := uint64(t.cfg.Buckets - 1)
		h := t.gramState
		var enc [utf8.UTFMax]byte
		for n := 1; n <= t.cfg.MaxN && n <= size; n++ {
			r := win[(head+n-1)%maxN]
			h = hashBytes(h, enc[:utf8.EncodeRune(enc[:], r)])
			if n < t.cfg.MinN || (n == 1 && r == ' ') {
				continue
			}
			if len(dst) == limit {
				return false
			}
			dst = append(dst, 1+int64(h%buckets))
		}
		head, size = (head+1)%maxN, size-1
		return true
	}
	push := func(r rune) bool {
		if size == t.cfg.MaxN && !emit() {
			return false
		}
		win[(head+size)%maxN] = r
		size++
		return true
	}
	words, sep := 0, true
	add := func(r rune) bool {
		if sep && !push(' ') || !push(r) {
			return false
		}
		sep = false
		words++
		return true
	}
	for _, r := range text {
		r = unicode.ToLower(r)
		if !isWordRune(r) {
			sep = true
			continue
		}
		latin, romanized := t.roman.latin(r)
		if !romanized {
			if !add(r) {
				return dst, true
			}
			continue
		}
		for k := range len(latin) { // a dropped rune (latin "") neither starts nor ends a word
			if !add(rune(latin[k])) {
				return dst, true
			}
		}
	}
	if words == 0 {
		return dst, false
	}
	if !push(' ') {
		return dst, true
	}
	for size > 0 {
		if !emit() {
			return dst, true
		}
	}
	return dst, false
}

// appendWord appends the ids of one bracketed word up to limit; dropped reports that some did not fit.
func (t *Tokenizer) appendWord(dst []int64, limit int, word []byte, offs []int) ([]int64, bool) {
	buckets := uint64(t.cfg.Buckets - 1)
	if len(dst) == limit {
		return dst, true
	}
	dst = append(dst, 1+int64(hashBytes(t.wordState, word[1:len(word)-1])%buckets))
	runes := len(offs) - 1
	for i := range runes {
		// FNV-1a is a stream hash: the n-gram at i extends the (n-1)-gram at i.
		h := t.gramState
		for n := 1; n <= t.cfg.MaxN && i+n <= runes; n++ {
			h = hashBytes(h, word[offs[i+n-1]:offs[i+n]])
			if n < t.cfg.MinN || (n == 1 && (i == 0 || i == runes-1)) {
				continue
			}
			if len(dst) == limit {
				return dst, true
			}
			dst = append(dst, 1+int64(h%buckets))
		}
	}
	return dst, false
}

// isWordRune reports whether r belongs to a word: a letter, mark or number.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

func hashBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}
