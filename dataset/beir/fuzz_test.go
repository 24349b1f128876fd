package beir

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzOpen reads arbitrary corpus.jsonl, queries.jsonl and qrels contents. Open must fail with an error
// naming a file (an *Error names file and line) or give a reader whose queries and candidates keep the
// promises: texts non-empty, valid UTF-8 and bounded; one candidate per document line, ids unique; every
// query judged relevant to at least one candidate, and every candidate's queries among them.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(goodCorpus), []byte(goodQueries), []byte(goodQrels))
	f.Add([]byte(`{"_id": "d", "text": "\ud800"}`+"\r\n"), []byte(`{"_id": "q", "text": "\ufffd"}`), []byte("q\td\t1"))
	f.Fuzz(func(t *testing.T, corpus, queries, qrels []byte) {
		const maxText = 256
		dir := write(t, string(corpus), string(queries), string(qrels))
		r, err := Open(dir, Options{Lang: "th", MaxTextBytes: maxText, MaxLineBytes: 1 << 12, MaxDocs: 64})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q names no file", err)
			}
			return
		}
		valid := func(what, s string) {
			if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || len(s) > maxText {
				t.Fatalf("%s %q: empty, invalid or over %d bytes", what, s, maxText)
			}
		}
		judged := map[string]bool{}
		for _, q := range r.Queries() {
			valid("query "+q.ID, q.Text)
			judged[q.QID] = false
		}
		ids := map[string]bool{}
		n := 0
		for it, err := range r.Candidates() {
			if err != nil {
				t.Fatalf("candidates after a successful Open: %v", err)
			}
			n++
			if ids[it.ID] {
				t.Fatalf("candidate id %q twice", it.ID)
			}
			ids[it.ID] = true
			valid("candidate "+it.ID, it.Text)
			for _, q := range it.QIDs {
				if _, ok := judged[q]; !ok {
					t.Fatalf("candidate %s relevant to %q, which is not a query", it.ID, q)
				}
				judged[q] = true
			}
		}
		if n != r.Documents() || n > 64 {
			t.Fatalf("%d candidates, Documents() = %d, MaxDocs 64", n, r.Documents())
		}
		for q, ok := range judged {
			if !ok {
				t.Fatalf("query %q has no relevant candidate", q)
			}
		}
	})
}
