package dataset

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzRead parses data as one file of dataset and checks what any file, well-formed or not, must give:
// an error (ErrSyntax for a broken file, a *RecordError per broken record) or items that obey the rules
// Read promises — texts non-empty, valid UTF-8 and bounded, query ids unique, relevance naming only
// queries of the file, candidate texts inside their context for raw SQuAD.
func fuzzRead(t *testing.T, dataset string, data []byte) {
	const maxText = 1 << 10
	var items []Item
	var skipped []*RecordError
	p := parser{file: File{Path: "fuzz.json", Dataset: dataset, Lang: "en"}, opts: Options{MaxTextBytes: maxText}.withDefaults(), seen: map[string]struct{}{},
		emit:   func(it Item) error { items = append(items, it); return nil },
		reject: func(e *RecordError) error { skipped = append(skipped, e); return nil },
		whole:  func() ([]byte, error) { return data, nil }}
	if err := p.scan(bytes.NewReader(data)); err != nil {
		if !errors.Is(err, ErrSyntax) {
			t.Fatalf("parse error %v does not wrap ErrSyntax", err)
		}
		if !strings.Contains(err.Error(), "fuzz.json") {
			t.Fatalf("parse error %q does not name the file", err)
		}
		return
	}
	for _, re := range skipped {
		if re.Record == "" {
			t.Fatalf("skipped record error %v names no record", re)
		}
	}
	queries := map[string]bool{}
	for _, it := range items {
		if it.Kind == Query {
			if queries[it.QID] {
				t.Fatalf("query id %q twice", it.QID)
			}
			queries[it.QID] = true
		}
	}
	ids := map[string]bool{}
	for _, it := range items {
		if ids[it.ID] {
			t.Fatalf("item id %q twice", it.ID)
		}
		ids[it.ID] = true
		if strings.TrimSpace(it.Text) == "" || !utf8.ValidString(it.Text) || len(it.Text) > maxText {
			t.Fatalf("item %s: text %q is empty, invalid or over %d bytes", it.ID, it.Text, maxText)
		}
		if it.Kind != Candidate {
			continue
		}
		for _, q := range it.QIDs {
			if !queries[q] {
				t.Fatalf("candidate %s is relevant to %q, which is no query of the file", it.ID, q)
			}
		}
		if dataset == XQuAD && !strings.Contains(it.Context, it.Text) {
			t.Fatalf("candidate %s: text %q is not part of its context %q", it.ID, it.Text, it.Context)
		}
	}
}

// FuzzReadLAReQA reads arbitrary bytes as a LAReQA (XQuAD-R, MLQA-R) file.
func FuzzReadLAReQA(f *testing.F) {
	f.Add([]byte(lareqa(good)))
	f.Add([]byte(`{"data": []}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, XQuADR, data) })
}

// FuzzReadSQuAD reads arbitrary bytes as a raw SQuAD (XQuAD) file, whose paragraphs are split by rule.
func FuzzReadSQuAD(f *testing.F) {
	f.Add([]byte(`{"data": [{"paragraphs": [{"context": "Ab cd. Ef gh.", "qas": [{"id": "q", "question": "Q?", "answers": [{"answer_start": 7}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, XQuAD, data) })
}

// FuzzSplitSentences checks SplitSentences' promise for any text: spans in order, inside the text, not
// overlapping, never empty, trimmed of space, on rune boundaries (for UTF-8 text).
func FuzzSplitSentences(f *testing.F) {
	for _, s := range []struct{ lang, text string }{
		{"en", "Dr. Smith arrived. He said \"Hi!\" Then he left."},
		{"de", "Am 7. Februar kam er. Dann ging er."},
		{"zh", "他来了。她走了！"},
		{"th", "เขามาถึงแล้ว ซึ่งทำให้ทุกคนดีใจมาก"},
		{"el", "Τι είναι; Είναι καλό."},
		{"hy", "Նա եկավ: Նա գնաց:"},
	} {
		f.Add(s.lang, s.text)
	}
	f.Fuzz(func(t *testing.T, lang, text string) {
		prev := 0
		for i, sp := range SplitSentences(lang, text) {
			if sp.Start < prev || sp.Start >= sp.End || sp.End > len(text) {
				t.Fatalf("span %d %v: not an ordered non-empty range after %d within %d bytes", i, sp, prev, len(text))
			}
			s := text[sp.Start:sp.End]
			if strings.TrimSpace(s) != s {
				t.Fatalf("span %d %q is not trimmed", i, s)
			}
			// Texts are checked to be UTF-8 before they are split; in other text a stray byte is its own span.
			if utf8.ValidString(text) && !utf8.ValidString(s) {
				t.Fatalf("span %d %v cuts a rune", i, sp)
			}
			prev = sp.End
		}
	})
}
