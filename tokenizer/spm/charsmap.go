package spm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Charsmap is SentencePiece's precompiled normalisation map: a darts-clone double-array trie from
// input byte sequences to offsets into a blob of NUL-terminated replacement strings. Hugging Face
// tokenizer.json files carry the same blob, base64-encoded, as the Precompiled normalizer.
type Charsmap struct {
	units      []uint32
	normalized []byte
}

// ParseCharsmap reads the blob layout of normalizer.cc: a little-endian uint32 trie size in bytes,
// the trie units, then the replacement strings.
func ParseCharsmap(blob []byte) (*Charsmap, error) {
	if len(blob) < 4 {
		return nil, errors.New("precompiled charsmap: shorter than its 4-byte header")
	}
	n := binary.LittleEndian.Uint32(blob)
	if n%4 != 0 || uint64(n) > uint64(len(blob)-4) {
		return nil, fmt.Errorf("precompiled charsmap: trie size %d does not fit a %d-byte blob", n, len(blob))
	}
	units := make([]uint32, n/4)
	for i := range units {
		units[i] = binary.LittleEndian.Uint32(blob[4+4*i:])
	}
	return &Charsmap{units: units, normalized: blob[4+n:]}, nil
}

// longestPrefix returns the replacement of the longest rule that matches a prefix of s, and the
// length of that prefix (0 when no rule matches). It is darts-clone's commonPrefixSearch, bounds-checked.
func (c *Charsmap) longestPrefix(s string) (string, int) {
	if len(c.units) == 0 {
		return "", 0
	}
	best, bestLen := -1, 0
	id := uint32(0) ^ unitOffset(c.units[0])
	for i := 0; i < len(s); i++ {
		id ^= uint32(s[i])
		if int(id) >= len(c.units) {
			break
		}
		u := c.units[id]
		if u&((1<<31)|0xFF) != uint32(s[i]) { // label
			break
		}
		id ^= unitOffset(u)
		if int(id) >= len(c.units) {
			break
		}
		if (u>>8)&1 == 1 { // has leaf
			best, bestLen = int(c.units[id]&((1<<31)-1)), i+1
		}
	}
	if best < 0 || best >= len(c.normalized) {
		return "", 0
	}
	rest := c.normalized[best:]
	if end := bytes.IndexByte(rest, 0); end >= 0 {
		rest = rest[:end]
	}
	return string(rest), bestLen
}

func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// normalizePrefix is NormalizePrefix of normalizer.cc: the replacement of the longest matching rule,
// else the next UTF-8 character unchanged, else U+FFFD for one malformed byte.
func (c *Charsmap) normalizePrefix(s string) (string, int) {
	if c != nil {
		if r, n := c.longestPrefix(s); n > 0 {
			return r, n
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return "\uFFFD", 1
	}
	return s[:n], n
}

// Map applies the charsmap alone to the whole of s, rule by rule, as Hugging Face's Precompiled
// normalizer does before its own whitespace handling.
func (c *Charsmap) Map(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		r, n := c.normalizePrefix(s)
		b.WriteString(r)
		s = s[n:]
	}
	return b.String()
}

// Normalizer is SentencePiece's NormalizerSpec applied to text, as normalizer.cc's Normalize does.
type Normalizer struct {
	Charsmap               *Charsmap // nil for the identity map
	AddDummyPrefix         bool
	RemoveExtraWhitespaces bool
	EscapeWhitespaces      bool
}

// Space is the meta symbol U+2581 that stands for a space in pieces.
const Space = "\u2581"

// Normalize returns the normalised text that the models segment.
func (n *Normalizer) Normalize(s string) string {
	if n.RemoveExtraWhitespaces {
		for len(s) > 0 {
			r, k := n.Charsmap.normalizePrefix(s)
			if r != " " {
				break
			}
			s = s[k:]
		}
	}
	if s == "" {
		return ""
	}
	space := " "
	if n.EscapeWhitespaces {
		space = Space
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	if n.AddDummyPrefix {
		b.WriteString(space)
	}
	prevSpace := n.RemoveExtraWhitespaces
	for len(s) > 0 {
		r, k := n.Charsmap.normalizePrefix(s)
		s = s[k:]
		if prevSpace {
			r = strings.TrimLeft(r, " ")
		}
		if r != "" {
			if n.EscapeWhitespaces {
				b.WriteString(strings.ReplaceAll(r, " ", Space))
			} else {
				b.WriteString(r)
			}
			prevSpace = strings.HasSuffix(r, " ")
		}
		prevSpace = prevSpace && n.RemoveExtraWhitespaces
	}
	out := b.String()
	if n.RemoveExtraWhitespaces {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	return out
}
