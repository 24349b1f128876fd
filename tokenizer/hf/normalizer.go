package hf

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"xling/tokenizer/spm"
)

type normalizer interface {
	normalize(s string) string
}

type normSeq []normalizer

func (q normSeq) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

type unicodeForm struct{ f norm.Form }

func (u unicodeForm) normalize(s string) string { return u.f.String(s) }

type lowercase struct{}

func (lowercase) normalize(s string) string { return toLower(s) }

type stripAccents struct{}

func (stripAccents) normalize(s string) string { return dropNonspacingMarks(s) }

type replace struct {
	literal string
	re      *regexp.Regexp
	content string
}

func (r replace) normalize(s string) string {
	if r.re != nil {
		return r.re.ReplaceAllLiteralString(s, r.content)
	}
	return strings.ReplaceAll(s, r.literal, r.content)
}

type prepend struct{ prefix string }

func (p prepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

type strip struct{ left, right bool }

func (p strip) normalize(s string) string {
	if p.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if p.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

type precompiled struct{ cm *spm.Charsmap }

func (p precompiled) normalize(s string) string { return p.cm.Map(s) }

// bertNormalizer is BERT's BasicTokenizer clean-up: control characters dropped, whitespace made
// spaces, CJK ideographs spaced apart, then optional accent stripping and lowercasing.
type bertNormalizer struct {
	cleanText, chinese, stripAccents, lowercase bool
}

func (b bertNormalizer) normalize(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		switch {
		case b.cleanText && (r == 0 || r == 0xFFFD || isBertControl(r)):
			continue
		case b.cleanText && isBertWhitespace(r):
			sb.WriteByte(' ')
		case b.chinese && isCJK(r):
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	out := sb.String()
	if b.stripAccents {
		out = dropNonspacingMarks(norm.NFD.String(out))
	}
	if b.lowercase {
		out = toLower(out)
	}
	return out
}

func isBertWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func dropNonspacingMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

// toLower lowercases as Unicode's full case mapping does (Rust's and JavaScript's toLowerCase), which
// unlike strings.ToLower turns a word-final capital sigma into ς.
func toLower(s string) string {
	if !strings.ContainsRune(s, 'Σ') {
		return strings.ToLower(s)
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i, r := range s {
		if r == 'Σ' && finalSigma(s, i) {
			sb.WriteRune('ς')
			continue
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}

// finalSigma is Unicode's Final_Sigma condition: a cased letter before (skipping case-ignorable
// characters) and none after.
func finalSigma(s string, i int) bool {
	before := false
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	for _, r := range s[i+len("Σ"):] {
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

func cased(r rune) bool { return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) }

func caseIgnorable(r rune) bool {
	return r == '\'' || r == '.' || r == ':' || r == '^' || r == '`' || r == 0xB7 || r == 0x2019 ||
		unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

type normalizerJSON struct {
	Type         string            `json:"type"`
	Normalizers  []json.RawMessage `json:"normalizers"`
	Pattern      pattern           `json:"pattern"`
	Content      string            `json:"content"`
	Prepend      string            `json:"prepend"`
	StripLeft    *bool             `json:"strip_left"`
	StripRight   *bool             `json:"strip_right"`
	Charsmap     string            `json:"precompiled_charsmap"`
	CleanText    *bool             `json:"clean_text"`
	HandleCJK    *bool             `json:"handle_chinese_chars"`
	StripAccents *bool             `json:"strip_accents"`
	Lowercase    *bool             `json:"lowercase"`
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var j normalizerJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch j.Type {
	case "Sequence":
		var q normSeq
		for _, r := range j.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				q = append(q, n)
			}
		}
		return q, nil
	case "NFC":
		return unicodeForm{norm.NFC}, nil
	case "NFD":
		return unicodeForm{norm.NFD}, nil
	case "NFKC":
		return unicodeForm{norm.NFKC}, nil
	case "NFKD":
		return unicodeForm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Replace":
		r := replace{content: j.Content}
		switch {
		case j.Pattern.String != nil:
			r.literal = *j.Pattern.String
		case j.Pattern.Regex != nil:
			re, err := regexp.Compile(*j.Pattern.Regex)
			if err != nil {
				return nil, fmt.Errorf("normalizer Replace: pattern %q is not supported: %w", *j.Pattern.Regex, err)
			}
			r.re = re
		default:
			return nil, fmt.Errorf("normalizer Replace: no pattern")
		}
		return r, nil
	case "Prepend":
		return prepend{j.Prepend}, nil
	case "Strip":
		return strip{left: boolOr(j.StripLeft, true), right: boolOr(j.StripRight, true)}, nil
	case "Precompiled":
		if j.Charsmap == "" {
			return nil, nil
		}
		blob, err := base64.StdEncoding.DecodeString(j.Charsmap)
		if err != nil {
			return nil, fmt.Errorf("normalizer Precompiled: %w", err)
		}
		cm, err := spm.ParseCharsmap(blob)
		if err != nil {
			return nil, fmt.Errorf("normalizer Precompiled: %w", err)
		}
		return precompiled{cm}, nil
	case "BertNormalizer":
		lower := boolOr(j.Lowercase, true)
		return bertNormalizer{cleanText: boolOr(j.CleanText, true), chinese: boolOr(j.HandleCJK, true),
			stripAccents: boolOr(j.StripAccents, lower), lowercase: lower}, nil
	}
	return nil, &unsupportedError{"normalizer", j.Type}
}

type unsupportedError struct{ kind, typ string }

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("unsupported %s type %q", e.kind, e.typ)
}
