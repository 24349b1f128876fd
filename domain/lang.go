// Package domain holds the words every xling package shares.
package domain

import (
	"fmt"

	"golang.org/x/text/language"
)

// Lang is an ISO 639-1 language code: two lower-case letters that golang.org/x/text/language knows as a
// current (not deprecated) code. Use ParseLang to make one from untrusted text.
type Lang string

// ParseLang validates s as an ISO 639-1 code against x/text/language's table (IANA's language subtag
// registry), so any language with a code is accepted without a list in xling. It rejects anything else
// — upper case, three-letter codes, unassigned codes, deprecated ones such as iw for he — with an error
// that names the code; callers add the file or record it came from.
func ParseLang(s string) (Lang, error) {
	if len(s) != 2 || !isLower(s[0]) || !isLower(s[1]) {
		return "", fmt.Errorf("malformed language code %q: want an ISO 639-1 code, two lower-case letters", s)
	}
	if _, err := language.ParseBase(s); err != nil {
		return "", fmt.Errorf("unknown language code %q: not an ISO 639-1 code", s)
	}
	// ParseBase accepts deprecated codes as they are; DeprecatedBase says what replaced them.
	if tag, err := language.DeprecatedBase.Parse(s); err == nil {
		if b, _ := tag.Base(); b.String() != s {
			return "", fmt.Errorf("deprecated language code %q: use %q", s, b.String())
		}
	}
	return Lang(s), nil
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
