// Package lexical is the tokenizer of the BM25 baseline: language-independent terms for any script.
//
// Text is NFKC-normalised and case-folded. Words are runs of letters, numbers and combining marks (a vowel
// sign or virama of Devanagari or Thai belongs to its word). Scripts written without spaces between words
// (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar, Tibetan, Yi) have no word boundaries to split on, so
// their runs become overlapping bigrams of characters, as Lucene's CJK bigram filter does; a run of one
// character is a term by itself. A character here is a base letter with the combining marks that follow it,
// so a Thai tone mark never stands alone in a bigram. There is no stemming and no stop list.
//
// A term's id is the FNV-1a 64-bit hash of its UTF-8 bytes with the top bit cleared.
package lexical

import (
	"math"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Tokenizer turns text into BM25 term ids. It is for one goroutine at a time (its case folder keeps state).
type Tokenizer struct {
	fold cases.Caser
	// scratch, reused between calls
	runes  []rune
	starts []int // index in runes where each character of the current run starts
}

// New returns a tokenizer.
func New() *Tokenizer { return &Tokenizer{fold: cases.Fold()} }

// Encode implements tokenizer.Tokenizer: the ids of Terms(text), no type ids, never truncated.
func (t *Tokenizer) Encode(text string) (ids, typeIDs []int64, truncated bool, err error) {
	terms := t.Terms(text)
	ids = make([]int64, len(terms))
	for i, term := range terms {
		ids[i] = ID(term)
	}
	return ids, nil, false, nil
}

// ID is a term's id: FNV-1a 64 of its bytes, masked to 63 bits so it is a non-negative int64.
func ID(term string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(term); i++ {
		h ^= uint64(term[i])
		h *= 1099511628211
	}
	return int64(h & math.MaxInt64)
}

// class is what a rune does in a run.
type class int

const (
	separator class = iota
	word            // a letter or number of a script written with spaces
	bigram          // a letter of a script written without spaces
	mark            // a combining mark: part of the character before it
	extender        // a modifier letter of no script (the prolonged sound mark ー): its own character, in the run it continues
)

func classify(r rune) class {
	switch {
	case unicode.IsMark(r):
		return mark
	case unicode.IsNumber(r):
		return word // digits are words even beside Han: 2024年 is "2024", "年"
	case !unicode.IsLetter(r):
		return separator
	case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer,
		unicode.Myanmar, unicode.Tibetan, unicode.Yi): // scripts written without spaces between words
		return bigram
	case unicode.Is(unicode.Lm, r) && unicode.In(r, unicode.Common, unicode.Inherited):
		return extender
	}
	return word
}

// Terms returns the terms of text in order.
func (t *Tokenizer) Terms(text string) []string {
	s := t.fold.String(norm.NFKC.String(text))
	var terms []string
	runClass := separator
	flush := func() {
		switch {
		case len(t.runes) == 0:
		case runClass == word:
			terms = append(terms, string(t.runes))
		case len(t.starts) == 1:
			terms = append(terms, string(t.runes))
		default:
			t.starts = append(t.starts, len(t.runes))
			for i := 0; i+2 < len(t.starts); i++ {
				terms = append(terms, string(t.runes[t.starts[i]:t.starts[i+2]]))
			}
		}
		t.runes, t.starts, runClass = t.runes[:0], t.starts[:0], separator
	}
	for _, r := range s {
		c := classify(r)
		switch c {
		case separator:
			flush()
			continue
		case mark:
			if runClass == separator {
				runClass = word // a mark with nothing before it starts a word
				t.starts = append(t.starts, len(t.runes))
			}
			t.runes = append(t.runes, r)
			continue
		case extender:
			c = runClass
			if c == separator {
				c = word
			}
		}
		if c != runClass {
			flush()
			runClass = c
		}
		t.starts = append(t.starts, len(t.runes))
		t.runes = append(t.runes, r)
	}
	flush()
	return terms
}
