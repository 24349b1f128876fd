package hf

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits normalised text into words; first says whether the text starts the input (it
// is not preceded by an added token), which Metaspace's prepend_scheme "first" needs.
type preTokenizer interface {
	split(words []string, first bool) []string
}

type preSeq []preTokenizer

func (q preSeq) split(words []string, first bool) []string {
	for _, p := range q {
		words = p.split(words, first)
	}
	return words
}

// splitEach applies fn to every word, collecting the non-empty results.
func splitEach(words []string, fn func(w string, out []string) []string) []string {
	out := make([]string, 0, len(words))
	for _, w := range words {
		out = fn(w, out)
	}
	return out
}

type whitespaceSplit struct{}

func (whitespaceSplit) split(words []string, _ bool) []string {
	return splitEach(words, func(w string, out []string) []string { return append(out, strings.Fields(w)...) })
}

// whitespace is \w+|[^\w\s]+ over Unicode word characters.
type whitespace struct{}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc)
}

func (whitespace) split(words []string, _ bool) []string {
	return splitEach(words, func(w string, out []string) []string {
		return appendRuns(w, out, func(r rune) int {
			switch {
			case unicode.IsSpace(r):
				return 0
			case isWordRune(r):
				return 1
			}
			return 2
		}, false)
	})
}

// appendRuns appends the maximal runs of runes of equal nonzero class; class 0 separates. With
// single, runes of class 2 each form their own run.
func appendRuns(w string, out []string, class func(rune) int, single bool) []string {
	start, cur := 0, 0
	for i, r := range w {
		c := class(r)
		if c != cur || (single && c == 2) {
			if cur != 0 {
				out = append(out, w[start:i])
			}
			start, cur = i, c
		}
	}
	if cur != 0 {
		out = append(out, w[start:])
	}
	return out
}

// bertPre splits on whitespace and isolates every punctuation character.
type bertPre struct{}

func isBertPunct(r rune) bool {
	return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) || unicode.IsPunct(r)
}

func (bertPre) split(words []string, _ bool) []string {
	return splitEach(words, func(w string, out []string) []string {
		return appendRuns(w, out, func(r rune) int {
			switch {
			case unicode.IsSpace(r):
				return 0
			case isBertPunct(r):
				return 2
			}
			return 1
		}, true)
	})
}

type metaspace struct {
	replacement string
	prepend     string // "always", "first" or "never"
	splitWords  bool
}

func (m metaspace) split(words []string, first bool) []string {
	return splitEach(words, func(w string, out []string) []string {
		w = strings.ReplaceAll(w, " ", m.replacement)
		if (m.prepend == "always" || (m.prepend == "first" && first)) && !strings.HasPrefix(w, m.replacement) {
			w = m.replacement + w
		}
		if !m.splitWords {
			return append(out, w)
		}
		// Each word keeps the replacement that starts it (MergedWithNext).
		for w != "" {
			from := 0
			if strings.HasPrefix(w, m.replacement) {
				from = len(m.replacement)
			}
			i := strings.Index(w[from:], m.replacement)
			if i < 0 {
				return append(out, w)
			}
			out = append(out, w[:from+i])
			w = w[from+i:]
		}
		return out
	})
}

// byteLevel is GPT-2's pre-tokenizer: optionally its regex split, then every byte mapped to a
// printable rune.
type byteLevel struct {
	addPrefixSpace, useRegex bool
}

func (b byteLevel) split(words []string, _ bool) []string {
	return splitEach(words, func(w string, out []string) []string {
		if b.addPrefixSpace && !strings.HasPrefix(w, " ") {
			w = " " + w
		}
		if !b.useRegex {
			return append(out, byteLevelEncode(w))
		}
		for _, p := range splitPattern(w, gpt2Pattern) {
			out = append(out, byteLevelEncode(p))
		}
		return out
	})
}

// byteRune is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others
// for U+0100 onwards, in byte order.
func byteRune(b byte) rune {
	if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE {
		return rune(b)
	}
	n := 0 // how many non-printable bytes precede b
	switch {
	case b < '!':
		n = int(b)
	case b < 0xA1: // 0x7F..0xA0
		n = int('!') + int(b-0x7F)
	default: // 0xAD
		n = int('!') + 0xA1 - 0x7F
	}
	return rune(256 + n)
}

func byteLevelEncode(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteRune(s[i]))
	}
	return sb.String()
}

type splitBehavior int

const (
	removed splitBehavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

// splitPre is the Split pre-tokenizer: matches of a pattern are delimiters, treated per behaviour.
type splitPre struct {
	literal  string
	re       *regexp.Regexp
	hand     handPattern
	behavior splitBehavior
	invert   bool
}

func (p splitPre) matches(w string) [][2]int {
	switch {
	case p.hand != noHandPattern:
		return matchPattern(w, p.hand)
	case p.re != nil:
		var out [][2]int
		for _, m := range p.re.FindAllStringIndex(w, -1) {
			if m[1] > m[0] {
				out = append(out, [2]int{m[0], m[1]})
			}
		}
		return out
	case p.literal == "":
		return nil
	}
	var out [][2]int
	for i := 0; ; {
		j := strings.Index(w[i:], p.literal)
		if j < 0 {
			return out
		}
		out = append(out, [2]int{i + j, i + j + len(p.literal)})
		i += j + len(p.literal)
	}
}

func (p splitPre) split(words []string, _ bool) []string {
	return splitEach(words, func(w string, out []string) []string {
		// pieces: (start, end, isMatch) covering w.
		type piece struct {
			s, e  int
			match bool
		}
		var ps []piece
		prev := 0
		for _, m := range p.matches(w) {
			if m[0] > prev {
				ps = append(ps, piece{prev, m[0], p.invert})
			}
			ps = append(ps, piece{m[0], m[1], !p.invert})
			prev = m[1]
		}
		if prev < len(w) {
			ps = append(ps, piece{prev, len(w), p.invert})
		}
		switch p.behavior {
		case removed:
			for _, q := range ps {
				if !q.match {
					out = append(out, w[q.s:q.e])
				}
			}
		case isolated:
			for _, q := range ps {
				out = append(out, w[q.s:q.e])
			}
		case mergedWithPrevious:
			start := -1
			for _, q := range ps {
				if start < 0 {
					start = q.s
				}
				if q.match {
					out = append(out, w[start:q.e])
					start = -1
				}
			}
			if start >= 0 {
				out = append(out, w[start:])
			}
		case mergedWithNext:
			start := 0
			for i, q := range ps {
				if q.match && i > 0 && q.s > start {
					out = append(out, w[start:q.s])
					start = q.s
				}
			}
			if start < len(w) {
				out = append(out, w[start:])
			}
		case contiguous:
			for i := 0; i < len(ps); {
				j := i + 1
				for j < len(ps) && ps[j].match == ps[i].match {
					j++
				}
				out = append(out, w[ps[i].s:ps[j-1].e])
				i = j
			}
		}
		return out
	})
}

// handPattern names a regex that Go's regexp cannot run (it has a lookahead), matched by hand instead.
type handPattern int

const (
	noHandPattern handPattern = iota
	gpt2Pattern               // GPT-2, RoBERTa
	qwenPattern               // Qwen2/Qwen3: cl100k with single digits
	cl100kPattern             // GPT-4, Llama 3: digits in runs of up to three
)

var handPatterns = map[string]handPattern{
	`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`:                                          gpt2Pattern,
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:      qwenPattern,
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: cl100kPattern,
}

func splitPattern(s string, h handPattern) []string {
	var out []string
	prev := 0
	for _, m := range matchPattern(s, h) {
		if m[0] > prev {
			out = append(out, s[prev:m[0]])
		}
		out = append(out, s[m[0]:m[1]])
		prev = m[1]
	}
	if prev < len(s) {
		out = append(out, s[prev:])
	}
	return out
}

func isL(r rune) bool { return unicode.IsLetter(r) }
func isN(r rune) bool { return unicode.IsNumber(r) }

// isS is \s of Rust's regex and Oniguruma: Unicode White_Space.
func isS(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// matchPattern returns the successive leftmost matches of h in s, trying the alternatives in order as
// a backtracking engine does.
func matchPattern(s string, h handPattern) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		n := matchAt(s[i:], h)
		if n == 0 {
			_, n = utf8.DecodeRuneInString(s[i:])
		} else {
			out = append(out, [2]int{i, i + n})
		}
		i += n
	}
	return out
}

// run returns the byte length of the longest prefix of s whose runes satisfy f.
func run(s string, f func(rune) bool) int {
	for i, r := range s {
		if !f(r) {
			return i
		}
	}
	return len(s)
}

func matchAt(s string, h handPattern) int {
	r0, n0 := utf8.DecodeRuneInString(s)
	// Contractions.
	if r0 == '\'' && len(s) > 1 {
		rest := s[1:]
		if h != gpt2Pattern {
			rest = strings.ToLower(rest[:min(2, len(rest))])
		}
		for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if strings.HasPrefix(rest, c) {
				return 1 + len(c)
			}
		}
	}
	if h == gpt2Pattern {
		// " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+"
		off := 0
		if r0 == ' ' {
			off = 1
		}
		for _, f := range []func(rune) bool{isL, isN, func(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }} {
			if n := run(s[off:], f); n > 0 {
				return off + n
			}
		}
	} else {
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if n := run(s, isL); n > 0 {
			return n
		}
		if r0 != '\r' && r0 != '\n' && !isL(r0) && !isN(r0) {
			if n := run(s[n0:], isL); n > 0 {
				return n0 + n
			}
		}
		// \p{N} or \p{N}{1,3}
		if isN(r0) {
			if h == qwenPattern {
				return n0
			}
			n := 0
			for k := 0; k < 3 && n < len(s); k++ {
				r, m := utf8.DecodeRuneInString(s[n:])
				if !isN(r) {
					break
				}
				n += m
			}
			return n
		}
		// " ?[^\s\p{L}\p{N}]+[\r\n]*"
		off := 0
		if r0 == ' ' {
			off = 1
		}
		if n := run(s[off:], func(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }); n > 0 {
			n += off
			return n + run(s[n:], func(r rune) bool { return r == '\r' || r == '\n' })
		}
		// "\s*[\r\n]+": the whitespace run up to its last line break.
		ws := run(s, isS)
		if last := strings.LastIndexAny(s[:ws], "\r\n"); last >= 0 {
			return last + 1
		}
	}
	// "\s+(?!\S)|\s+"
	ws := run(s, isS)
	if ws == 0 {
		return 0
	}
	if ws == len(s) {
		return ws
	}
	_, last := utf8.DecodeLastRuneInString(s[:ws])
	if ws-last > 0 {
		return ws - last
	}
	return ws
}

type preJSON struct {
	Type           string            `json:"type"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Replacement    string            `json:"replacement"`
	PrependScheme  string            `json:"prepend_scheme"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	Split          *bool             `json:"split"`
	UseRegex       *bool             `json:"use_regex"`
	Pattern        pattern           `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var j preJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch j.Type {
	case "Sequence":
		var q preSeq
		for _, r := range j.Pretokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, err
			}
			if p != nil {
				q = append(q, p)
			}
		}
		return q, nil
	case "Whitespace":
		return whitespace{}, nil
	case "WhitespaceSplit":
		return whitespaceSplit{}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Metaspace":
		m := metaspace{replacement: j.Replacement, prepend: j.PrependScheme, splitWords: boolOr(j.Split, true)}
		if m.replacement == "" {
			m.replacement = "\u2581"
		}
		if m.prepend == "" {
			m.prepend = "always"
			if !boolOr(j.AddPrefixSpace, true) {
				m.prepend = "never"
			}
		}
		return m, nil
	case "ByteLevel":
		return byteLevel{addPrefixSpace: boolOr(j.AddPrefixSpace, true), useRegex: boolOr(j.UseRegex, true)}, nil
	case "Split":
		p := splitPre{invert: j.Invert}
		switch j.Behavior {
		case "Removed":
			p.behavior = removed
		case "Isolated":
			p.behavior = isolated
		case "MergedWithPrevious":
			p.behavior = mergedWithPrevious
		case "MergedWithNext":
			p.behavior = mergedWithNext
		case "Contiguous":
			p.behavior = contiguous
		default:
			return nil, fmt.Errorf("pre_tokenizer Split: unknown behavior %q", j.Behavior)
		}
		switch {
		case j.Pattern.String != nil:
			p.literal = *j.Pattern.String
		case j.Pattern.Regex != nil:
			if h, ok := handPatterns[*j.Pattern.Regex]; ok {
				p.hand = h
				break
			}
			re, err := regexp.Compile(*j.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("pre_tokenizer Split: pattern %q is not supported (Go's regexp has no lookaround, and it is not one of the patterns matched by hand): %w", *j.Pattern.Regex, err)
			}
			p.re = re
		default:
			return nil, fmt.Errorf("pre_tokenizer Split: no pattern")
		}
		return p, nil
	}
	return nil, &unsupportedError{"pre_tokenizer", j.Type}
}
