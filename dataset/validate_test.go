package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes body as the en file of name in a fresh directory and returns that file.
func writeFile(t *testing.T, name, body string) File {
	t.Helper()
	dir := t.TempDir()
	writeData(t, dir, filepath.Join(name, filePatterns[name].prefix+"en.json"), body)
	files, err := Files(dir, name, []string{"en"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// writeData writes body to dir/rel, making the folders on the way.
func writeData(t *testing.T, dir, rel, body string) {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lareqa builds a one-article LAReQA file; each paragraph is raw JSON.
func lareqa(paragraphs ...string) string {
	return `{"data": [{"title": "t", "paragraphs": [` + strings.Join(paragraphs, ",") + `]}], "version": "1.1"}`
}

// good is "Ab cd. Ef gh." with questions answered in each sentence.
const good = `{"context": "Ab cd. Ef gh.", "sentence_breaks": [[0, 6], [7, 13]], "sentences": ["Ab cd.", "Ef gh."],
 "qas": [{"id": "q1", "question": "Q one?", "answers": [{"text": "cd", "answer_start": 3}]},
         {"id": "q2", "question": "Q two?", "answers": [{"text": "Ef", "answer_start": 7}]}]}`

func TestReadLAReQA(t *testing.T) {
	res, err := writeFile(t, XQuADR, lareqa(good)).Read(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{
		{Dataset: XQuADR, Lang: "en", Kind: Query, ID: "en/q/q1", QID: "q1", Text: "Q one?"},
		{Dataset: XQuADR, Lang: "en", Kind: Query, ID: "en/q/q2", QID: "q2", Text: "Q two?"},
		{Dataset: XQuADR, Lang: "en", Kind: Candidate, ID: "en/c/0.0.0", Text: "Ab cd.", Context: "Ab cd. Ef gh.", QIDs: []string{"q1"}},
		{Dataset: XQuADR, Lang: "en", Kind: Candidate, ID: "en/c/0.0.1", Text: "Ef gh.", Context: "Ab cd. Ef gh.", QIDs: []string{"q2"}},
	}
	if len(res.Items) != len(want) {
		t.Fatalf("got %d items, want %d: %+v", len(res.Items), len(want), res.Items)
	}
	for i := range want {
		if g, w := res.Items[i], want[i]; g.ID != w.ID || g.Kind != w.Kind || g.Text != w.Text || g.Context != w.Context ||
			g.QID != w.QID || strings.Join(g.QIDs, ",") != strings.Join(w.QIDs, ",") || g.Lang != w.Lang || g.Dataset != w.Dataset {
			t.Errorf("item %d = %+v, want %+v", i, g, w)
		}
	}
}

// Offsets count code points: "é" is two bytes but one offset, and the answer at offset 8 is in sentence 2.
// The text comes from sentences even where it differs from the context slice (XQuAD-R's Turkish case).
func TestReadLAReQAUsesCodePointsAndPublishedSentences(t *testing.T) {
	body := lareqa(`{"context": "Éé ab. Cd.", "sentence_breaks": [[0, 6], [7, 10]], "sentences": ["Éé ab.", "d."],
	 "qas": [{"id": "q", "question": "Q?", "answers": [{"text": "d", "answer_start": 8}]}]}`)
	res, err := writeFile(t, XQuADR, body).Read(Options{})
	if err != nil {
		t.Fatal(err)
	}
	last := res.Items[len(res.Items)-1]
	if last.Text != "d." || len(last.QIDs) != 1 || last.QIDs[0] != "q" {
		t.Errorf("second sentence = %q %v, want %q [q]", last.Text, last.QIDs, "d.")
	}
}

func TestReadRejectsMalformedFiles(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"syntax error", "{\"data\": [\n  {\"paragraphs\": [}]}", "en.json:2:19: "},
		{"truncated", "{\"data\": [\n{\"paragraphs\": [", "en.json:2:16: "},
		{"wrong shape", "{\"data\": [{\"paragraphs\": 5}]}", "en.json:1:26: "},
		{"trailing garbage", lareqa(good) + " x", "en.json:"},
		{"no data", `{"version": "1.1"}`, "no data"},
		{"data named twice", `{"data": [], "data": [{"paragraphs": []}]}`, `en.json:1:19: malformed dataset file: key "data" named twice`},
		{"nested past the decoder's depth", `{"data": [{"paragraphs": [], "x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`, "exceeded max depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, XQuADR, tt.body)
			_, err := f.Read(Options{Partial: true})
			if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), f.Path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read error = %v, want ErrSyntax naming %s and %q", err, f.Path, tt.want)
			}
		})
	}
	f := writeFile(t, XQuADR, lareqa(good))
	if _, err := f.Read(Options{MaxFileBytes: 10}); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("Read of an oversized file: error = %v", err)
	}
}

func TestReadRejectsBrokenRecords(t *testing.T) {
	qa := func(id, q string, start int) string {
		return `{"id": ` + id + `, "question": ` + q + `, "answers": [{"text": "x", "answer_start": ` + itoa(start) + `}]}`
	}
	para := func(qas ...string) string {
		return `{"context": "Ab cd. Ef gh.", "sentence_breaks": [[0, 6], [7, 13]], "sentences": ["Ab cd.", "Ef gh."], "qas": [` +
			strings.Join(qas, ",") + `]}`
	}
	const p0 = "data[0].paragraphs[0]"
	tests := []struct {
		name   string
		body   string
		opts   Options
		record string
		msg    string
	}{
		{"missing id", lareqa(para(`{"question": "Q?", "answers": [{"answer_start": 0}]}`)), Options{}, p0 + ".qas[0].id", "missing"},
		{"empty question", lareqa(para(qa(`"q"`, `"  "`, 0))), Options{}, p0 + ".qas[0].question", "empty"},
		{"question not a string", lareqa(para(qa(`"q"`, `7`, 0))), Options{}, p0 + ".qas[0].question", "not a string"},
		{"answer past the context", lareqa(para(qa(`"q"`, `"Q?"`, 13))), Options{}, p0 + ".qas[0].answers[0].answer_start", "outside the context"},
		{"negative answer", lareqa(para(qa(`"q"`, `"Q?"`, -1))), Options{}, p0 + ".qas[0].answers[0].answer_start", "outside the context"},
		{"answer between breaks", lareqa(para(qa(`"q"`, `"Q?"`, 6))), Options{}, p0 + ".qas[0].answers[0].answer_start", "no sentence"},
		{"no answers", lareqa(para(`{"id": "q", "question": "Q?", "answers": []}`)), Options{}, p0 + ".qas[0].answers", "no answers"},
		{"invalid UTF-8", lareqa(para(qa(`"q"`, "\"Q\xff?\"", 0))), Options{}, p0 + ".qas[0].question", "invalid UTF-8"},
		{"oversized question", lareqa(para(qa(`"q"`, `"`+strings.Repeat("a", 20)+`"`, 0))), Options{MaxTextBytes: 16}, p0 + ".qas[0].question", "over the limit of 16"},
		{"duplicate id", lareqa(para(qa(`"q"`, `"Q?"`, 0)), para(qa(`"q"`, `"Q?"`, 7))), Options{}, "data[0].paragraphs[1].qas[0].id", `duplicate id "q"`},
		{"breaks out of order", lareqa(`{"context": "Ab cd. Ef gh.", "sentence_breaks": [[7, 13], [0, 6]], "sentences": ["a", "b"], "qas": []}`), Options{}, p0 + ".sentence_breaks[1]", "ordered"},
		{"break past the context", lareqa(`{"context": "Ab", "sentence_breaks": [[0, 3]], "sentences": ["Ab"], "qas": []}`), Options{}, p0 + ".sentence_breaks[0]", "ordered"},
		{"sentences and breaks differ", lareqa(`{"context": "Ab", "sentence_breaks": [[0, 2]], "sentences": [], "qas": []}`), Options{}, p0 + ".sentences", "0 sentences for 1"},
		{"missing context", lareqa(`{"sentence_breaks": [[0, 2]], "sentences": ["Ab"], "qas": []}`), Options{}, p0 + ".context", "missing"},
		{"NUL in a question", lareqa(para(qa(`"q"`, `"Q\u0000?"`, 0))), Options{}, p0 + ".qas[0].question", "control character U+0000"},
		{"escape in a sentence", lareqa(`{"context": "Ab", "sentence_breaks": [[0, 2]], "sentences": ["\u001b["], "qas": []}`), Options{}, p0 + ".sentences[0]", "control character U+001B"},
		{"key named twice in a question", lareqa(para(`{"id": "q", "question": "Q?", "question": "R?", "answers": [{"answer_start": 0}]}`)), Options{}, p0 + ".qas[0].question", "named twice"},
		{"key named twice in an answer", lareqa(para(`{"id": "q", "question": "Q?", "answers": [{"answer_start": 0, "answer_start": 7}]}`)), Options{}, p0 + ".qas[0].answers[0].answer_start", "named twice"},
		{"key named twice in a paragraph", lareqa(`{"context": "Ab", "context": "Cd", "sentence_breaks": [[0, 2]], "sentences": ["Ab"], "qas": []}`), Options{}, p0 + ".context", "named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, XQuADR, tt.body)
			res, err := f.Read(tt.opts)
			var re *RecordError
			if !errors.As(err, &re) || re.File != f.Path || re.Record != tt.record || !strings.Contains(re.Msg, tt.msg) {
				t.Fatalf("Read error = %v, want a record error at %s: %q", err, tt.record, tt.msg)
			}
			if res.Items != nil {
				t.Errorf("Read returned %d items with its error", len(res.Items))
			}
			tt.opts.Partial = true
			res, err = f.Read(tt.opts)
			if err != nil || len(res.Skipped) != 1 {
				t.Fatalf("Read with Partial = %v skipped, error %v; want 1 skipped", res.Skipped, err)
			}
			if !errors.As(res.Skipped[0], &re) || re.Record != tt.record {
				t.Errorf("skipped %v, want record %s", res.Skipped[0], tt.record)
			}
		})
	}
}

func TestReadPartialKeepsTheGoodRecords(t *testing.T) {
	body := lareqa(good, `{"context": "Xy.", "sentence_breaks": [[0, 3]], "sentences": ["Xy."],
	 "qas": [{"id": "q1", "question": "Again?", "answers": [{"answer_start": 0}]},
	         {"id": "q3", "question": "Three?", "answers": [{"answer_start": 0}]}]}`)
	res, err := writeFile(t, XQuADR, body).Read(Options{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	q, c := count(res.Items)
	if q != 3 || c != 3 || len(res.Skipped) != 1 {
		t.Errorf("got %d queries, %d candidates, %d skipped; want 3, 3, 1", q, c, len(res.Skipped))
	}
	last := res.Items[len(res.Items)-1]
	if strings.Join(last.QIDs, ",") != "q3" {
		t.Errorf("last candidate QIDs = %v, want [q3] (the duplicate q1 is dropped)", last.QIDs)
	}
}

func TestReadRawSQuADSplitsSentences(t *testing.T) {
	body := `{"data": [{"title": "t", "paragraphs": [{"context": "Ab cd. Ef gh. Ij.",
	 "qas": [{"id": "q1", "question": "Q?", "answers": [{"text": " Ef", "answer_start": 6}]},
	         {"id": "q2", "question": "R?", "answers": [{"text": "Ij", "answer_start": 14}]}]}]}]}`
	res, err := writeFile(t, XQuAD, body).Read(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range res.Items {
		if it.Kind == Candidate {
			got = append(got, it.ID+"="+it.Text+"|"+strings.Join(it.QIDs, ","))
		}
	}
	// q1's answer starts on the space after "cd.", which belongs to the first sentence.
	want := "en/c/0.0.0=Ab cd.|q1 en/c/0.0.1=Ef gh.| en/c/0.0.2=Ij.|q2"
	if strings.Join(got, " ") != want {
		t.Errorf("candidates = %q, want %q", strings.Join(got, " "), want)
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
