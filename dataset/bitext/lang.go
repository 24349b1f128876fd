package bitext

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"xling/domain"
)

// corpusLang maps a code the corpora use in file names — ISO 639-1 (stsb-multi-mt), ISO 639-3 (Tatoeba,
// NTREX: eng, swh), FLORES-200's code_Script (swh_Latn), NTREX's zho-CN — to its ISO 639-1 code through
// x/text/language's tables, so any language with such a code is accepted. An individual language maps to
// its macrolanguage when only that has a two-letter code (arb → ar, swh → sw, cmn → zh). A script other
// than the language's usual one (or implied by the region) is another written language and is rejected:
// zho_Hant and zho-TW are not zh.
func corpusLang(code string) (domain.Lang, error) {
	tag, err := language.DeprecatedBase.Parse(strings.ReplaceAll(code, "_", "-"))
	if err != nil {
		return "", fmt.Errorf("unknown language code %q", code)
	}
	if b, _ := tag.Base(); len(b.String()) != 2 {
		tag, _ = (language.DeprecatedBase | language.Macro).Compose(tag)
	}
	base, _ := tag.Base()
	if len(base.String()) != 2 {
		return "", fmt.Errorf("language code %q: %s has no ISO 639-1 code", code, base)
	}
	script, _ := tag.Script()
	usual, _ := language.Make(base.String()).Script()
	if script != usual && !slices.Contains(scriptParts[usual.String()], script.String()) {
		return "", fmt.Errorf("language code %q: script %s is not the usual script of %s (%s)", code, script, base, usual)
	}
	return domain.ParseLang(base.String())
}

// scriptParts lists what ISO 15924's composite scripts combine: FLORES writes Korean kor_Hang, though
// x/text's usual script for ko is Kore (Hangul with Han).
var scriptParts = map[string][]string{
	"Kore": {"Hang", "Hani"},
	"Jpan": {"Hani", "Hira", "Kana", "Hrkt"},
}
