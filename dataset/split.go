package dataset

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Span is a byte range [Start, End) of a text.
type Span struct{ Start, End int }

// SplitSentences cuts text into sentences by rule, for languages whose raw data (XQuAD) has no sentence
// breaks. Spans are trimmed of surrounding space, in order, and never empty. lang is an ISO 639-1 code;
// the rules work for any language, a few codes adding their own.
//
// A sentence ends at a sentence terminal, together with any closing quotes, brackets and further
// terminals after it. The terminals are Unicode's Sentence_Terminal property (. ! ? 。！？ । ॥ ؟ ۔ ։ ።
// ፧ ။ and the marks of many more scripts) less the Myanmar ၊, a comma, plus the Khmer ។ and ៕ and the
// Greek question mark U+037E; Greek also ends a sentence at ";" and Armenian at ":", which stand for
// those marks when typed on a Latin keyboard.
//
// The full stop, ! and ? (and ; : where they count) end a sentence only before a space followed by
// something that is not a lower-case letter, and a full stop not after a single letter (an initial), a
// known abbreviation, or, in German, a one- or two-digit ordinal ("am 7. Februar"). Every other terminal
// belongs to a script where it is unambiguous, so it ends a sentence with or without a space after it
// (Chinese, Japanese, Burmese and Khmer write none), unless a lower-case letter follows; without a space
// the next sentence must open with a letter, a digit (not after a digit: a full-width decimal point) or
// an opening bracket or quote other than "[" (Wikipedia's "[citation needed]" follows a sentence). Thai has no sentence punctuation: spaces separate
// clauses, so a Thai sentence also ends at a space before a word that usually opens a clause (ซึ่ง,
// เนื่องจาก, ...) once it is long enough to stand alone. Lao has neither marks nor such a list, so a Lao
// paragraph stays one sentence.
func SplitSentences(lang, text string) []Span {
	var spans []Span
	start := 0
	emit := func(end, next int) {
		if s, e := trimSpan(text, start, end); s < e {
			spans = append(spans, Span{s, e})
		}
		start = next
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		j := i + size
		switch {
		case isSpacedStop(lang, r):
			j = skipClosers(text, j)
			k := skipSpace(text, j)
			if k > j && k < len(text) && endsSentence(lang, text, start, i, r, k) {
				emit(j, k)
				j = k
			}
		case isTerminal(r):
			j = skipClosers(text, j)
			k := skipSpace(text, j)
			if k < len(text) && opensSentence(text, i, k, k > j) {
				emit(j, k)
				j = k
			}
		case lang == "th" && unicode.IsSpace(r):
			k := skipSpace(text, i)
			if k < len(text) && utf8.RuneCountInString(text[start:i]) >= thaiMinRunes && opensThaiClause(text[k:]) {
				emit(i, k)
			}
			j = k
		}
		i = j
	}
	emit(len(text), len(text))
	return spans
}

// thaiMinRunes keeps a clause word from cutting off a fragment too short to be a sentence.
const thaiMinRunes = 30

// isSpacedStop reports the terminals that also occur inside sentences (3.5, U.S., example.com).
func isSpacedStop(lang string, r rune) bool {
	switch r {
	case '.', '!', '?':
		return true
	case ';':
		return lang == "el"
	case ':':
		return lang == "hy"
	}
	return false
}

// isTerminal reports whether r ends a sentence in some script (see SplitSentences).
func isTerminal(r rune) bool {
	switch r {
	case '\u104a': // MYANMAR SIGN LITTLE SECTION: Burmese's comma, though Unicode lists it
		return false
	case '\u17d4', '\u17d5', '\u037e': // KHMER SIGN KHAN, BARIYOOSAN; GREEK QUESTION MARK
		return true
	}
	return unicode.Is(unicode.Sentence_Terminal, r)
}

// opensSentence decides a terminal other than a spaced stop at text[i], followed at next by the next
// sentence's first rune, after closers and any space (spaced: there was some).
func opensSentence(text string, i, next int, spaced bool) bool {
	nr, _ := utf8.DecodeRuneInString(text[next:])
	switch {
	case unicode.IsLower(nr):
		return false
	case spaced:
		return true
	case nr == '[': // a citation mark glued to the sentence before: "।[citation needed]"
		return false
	case unicode.IsDigit(nr):
		pr, _ := utf8.DecodeLastRuneInString(text[:i])
		return !unicode.IsDigit(pr) // not a full-width decimal point
	}
	return unicode.IsLetter(nr) || unicode.In(nr, unicode.Ps, unicode.Pi)
}

// isCloser reports what may follow a sentence's last terminal and still belong to it: closing brackets
// and quotes, and further terminals ("?!", "！？").
func isCloser(r rune) bool {
	return r == '"' || r == '\'' || unicode.In(r, unicode.Pe, unicode.Pf) || isTerminal(r)
}

func skipClosers(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isCloser(r) {
			break
		}
		i += size
	}
	return i
}

func skipSpace(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += size
	}
	return i
}

func trimSpan(text string, s, e int) (int, int) {
	t := text[s:e]
	left := strings.TrimLeftFunc(t, unicode.IsSpace)
	s += len(t) - len(left)
	return s, s + len(strings.TrimRightFunc(left, unicode.IsSpace))
}

// endsSentence decides a stop at text[i] (rune r) followed by space and, at next, the following word.
func endsSentence(lang, text string, start, i int, r rune, next int) bool {
	nr, _ := utf8.DecodeRuneInString(text[next:])
	if unicode.IsLower(nr) {
		return false
	}
	if r != '.' {
		return true
	}
	word := lastWord(text[start:i])
	switch {
	case utf8.RuneCountInString(word) == 1 && unicode.IsUpper([]rune(word)[0]):
		return false // an initial: "J. R. R. Tolkien"
	case isAbbreviation(strings.ToLower(word)):
		return false
	case lang == "de" && len(word) <= 2 && isDigits(word):
		return false
	}
	return true
}

// lastWord is the run of letters, digits and inner dots that ends text.
func lastWord(text string) string {
	i := len(text)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(text[:i])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '.' {
			break
		}
		i -= size
	}
	return strings.TrimLeft(text[i:], ".")
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// isAbbreviation lists lower-cased abbreviations that end in a full stop mid-sentence.
func isAbbreviation(w string) bool {
	switch w {
	case "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "no", "nos",
		"inc", "ltd", "co", "corp", "mt", "ft", "approx", "ca", "cf", "fig", "vol", "gen", "col", "lt", "sgt",
		"u.s", "u.k", "a.m", "p.m", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
		"z.b", "bzw", "usw", "nr", "vgl", "evtl", "ggf", "sog", "dt", "jh", "d.h", "u.a", "bspw", // German
		"sra", "srta", "ud", "uds", "p.ej", "aprox", "núm", "ej", // Spanish
		"г", "гг", "т.е", "т.д", "т.п", "им", "ул", "стр", "см", "др", "тыс", "млн", "млрд", // Russian
		"κ", "π.χ", "χλμ", "δηλ", // Greek
		"örn", "yy", "vb": // Turkish
		return true
	}
	return false
}

// opensThaiClause reports whether text starts with a word that usually opens a Thai clause.
func opensThaiClause(text string) bool {
	for _, w := range []string{
		"ซึ่ง", "เพื่อ", "อย่างไรก็ตาม", "เนื่องจาก", "โดยมี", "ในขณะที่", "ขณะที่", "เมื่อ", "นอกจากนี้",
		"โดยที่", "เพราะ", "หลังจาก", "ดังนั้น", "แม้ว่า", "ถึงแม้", "โดยเฉพาะ", "อย่างไรก็ดี", "ต่อมา",
		"จากนั้น", "ส่วน", "ก่อนที่", "ทำให้", "โดย",
	} {
		if strings.HasPrefix(text, w) {
			return true
		}
	}
	return false
}
