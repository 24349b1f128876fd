package dataset

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Span is a byte range [Start, End) of a text.
type Span struct{ Start, End int }

// SplitSentences cuts text into sentences by rule, for languages whose raw data (XQuAD) has no sentence
// breaks. Spans are trimmed of surrounding space, in order, and never empty.
//
// A sentence ends at . ! ? (Greek also at ;, its question mark), Arabic ؟ and ۔, Devanagari । and ॥, or
// the full-width 。！？, together with any closing quotes and brackets after it. Full-width marks end a
// sentence outright; the others only before a space followed by something that is not a lower-case
// letter. A full stop does not end a sentence after a single letter (an initial), a known abbreviation,
// or, in German, a one- or two-digit ordinal ("am 7. Februar"). Thai has no sentence punctuation: spaces
// separate clauses, so a Thai sentence also ends at a space before a word that usually opens a clause
// (ซึ่ง, เนื่องจาก, ...) once it is long enough to stand alone.
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
		case isFullWidthStop(r):
			j = skipClosers(text, j)
			if strings.TrimSpace(text[j:]) != "" {
				emit(j, j)
			}
		case isStop(lang, r):
			j = skipClosers(text, j)
			k := skipSpace(text, j)
			if k > j && k < len(text) && endsSentence(lang, text, start, i, r, k) {
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

func isFullWidthStop(r rune) bool { return r == '。' || r == '！' || r == '？' }

func isStop(lang string, r rune) bool {
	switch r {
	case '.', '!', '?', '؟', '۔', '।', '॥':
		return true
	case ';', '\u037e': // ASCII and Greek question mark
		return lang == "el"
	}
	return false
}

func isCloser(r rune) bool {
	return strings.ContainsRune(`"')]}»’”」』）】`, r) || r == '.' || r == '!' || r == '?'
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
