package ngram

import (
	"fmt"
	"strconv"
	"strings"
)

// romanizer maps the lower-case runes of romanize.tsv to their Latin replacements; a dense table over the
// span of listed code points, since it is consulted for every rune of every text.
type romanizer struct {
	lo    rune
	repl  []string
	known []bool
}

// parseRomanizer reads the table: lines of code point (hex), script name and replacement, tab-separated;
// "#" starts a comment line.
func parseRomanizer(tsv string) (*romanizer, error) {
	type entry struct {
		r     rune
		latin string
	}
	var es []entry
	lo, hi := rune(-1), rune(-1)
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("romanize.tsv line %d: %d fields, want 3", i+1, len(f))
		}
		cp, err := strconv.ParseUint(f[0], 16, 21)
		if err != nil {
			return nil, fmt.Errorf("romanize.tsv line %d: code point %q: %w", i+1, f[0], err)
		}
		for _, c := range f[2] {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
				return nil, fmt.Errorf("romanize.tsv line %d: replacement %q is not ASCII a-z, 0-9", i+1, f[2])
			}
		}
		r := rune(cp)
		es = append(es, entry{r, f[2]})
		if lo < 0 || r < lo {
			lo = r
		}
		hi = max(hi, r)
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("romanize.tsv: no entries")
	}
	m := &romanizer{lo: lo, repl: make([]string, hi-lo+1), known: make([]bool, hi-lo+1)}
	for _, e := range es {
		if m.known[e.r-lo] {
			return nil, fmt.Errorf("romanize.tsv: code point %04X listed twice", e.r)
		}
		m.repl[e.r-lo], m.known[e.r-lo] = e.latin, true
	}
	return m, nil
}

// latin returns r's replacement and whether r has one; a nil romanizer has none.
func (m *romanizer) latin(r rune) (string, bool) {
	if m == nil || r < m.lo || int(r-m.lo) >= len(m.repl) || !m.known[r-m.lo] {
		return "", false
	}
	return m.repl[r-m.lo], true
}
