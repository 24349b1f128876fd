package tokenize

import (
	"errors"
	"strings"
	"testing"

	"xling/domain"
	"xling/schemas"
)

func TestTextAppliesTheItemRules(t *testing.T) {
	cfg := Config{MaxTextBytes: 40, QueryPrefix: "query: ", PassagePrefix: "passage: ", WithContext: true, Langs: []string{"en", "th"}}
	ok := schemas.Record{ID: "en/q/1", Lang: "en", Kind: "query", Text: "Who won?"}
	tests := []struct {
		name    string
		edit    func(*schemas.Record)
		want    string
		wantErr error
	}{
		{"query gets its prefix", func(*schemas.Record) {}, "query: Who won?", nil},
		{"candidate gets sentence and context", func(r *schemas.Record) { r.Kind, r.Text, r.Context = "candidate", "A.", "A. B." }, "passage: A. A. B.", nil},
		{"Thai text passes", func(r *schemas.Record) { r.Lang, r.Text = "th", "ใคร" }, "query: ใคร", nil},
		{"missing id", func(r *schemas.Record) { r.ID = "" }, "", ErrMissingID},
		{"unknown language", func(r *schemas.Record) { r.Lang = "xx" }, "", ErrUnknownLang},
		{"a valid code the run does not accept", func(r *schemas.Record) { r.Lang = "de" }, "", ErrUnknownLang},
		{"empty text", func(r *schemas.Record) { r.Text = "" }, "", ErrEmptyText},
		{"whitespace-only text", func(r *schemas.Record) { r.Text = " \t\n" }, "", ErrEmptyText},
		{"invalid UTF-8", func(r *schemas.Record) { r.Text = "ok \xff" }, "", ErrInvalidUTF8},
		{"invalid UTF-8 in context", func(r *schemas.Record) { r.Kind, r.Context = "candidate", "\xc3" }, "", ErrInvalidUTF8},
		{"over the size limit", func(r *schemas.Record) { r.Text = strings.Repeat("a", 34) }, "", ErrTooLong},
		{"unknown kind", func(r *schemas.Record) { r.Kind = "other" }, "", ErrBadKind},
		{"NUL in the text", func(r *schemas.Record) { r.Text = "Who\x00 won?" }, "", ErrControl},
		{"escape in the context", func(r *schemas.Record) { r.Kind, r.Text, r.Context = "candidate", "A.", "\x1b[2J" }, "", ErrControl},
		{"zero-width and bidirectional characters pass", func(r *schemas.Record) { r.Text = "Who\u200b won\u202e?" }, "query: Who\u200b won\u202e?", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			got, err := cfg.Text(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("text = %q, want %q", got, tc.want)
			}
		})
	}
}

// With no list, any ISO 639-1 language passes, one xling has never seen included.
func TestTextAcceptsAnyISOLanguageByDefault(t *testing.T) {
	for _, lang := range []string{"sw", "am", "hy", "ja"} {
		if _, err := (Config{}).Text(schemas.Record{ID: lang + "/q/1", Lang: lang, Kind: domain.Query, Text: "?"}); err != nil {
			t.Errorf("%s: %v", lang, err)
		}
	}
	for _, lang := range []string{"xx", "EN", "eng", ""} {
		if _, err := (Config{}).Text(schemas.Record{ID: "q", Lang: lang, Kind: domain.Query, Text: "?"}); !errors.Is(err, ErrUnknownLang) {
			t.Errorf("%q: err = %v, want ErrUnknownLang", lang, err)
		}
	}
}
