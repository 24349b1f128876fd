package tokenize

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

// runes is a tokenizer whose ids are the text's code points, cut to max: every id can be worked by hand.
// A text containing "boom" fails to encode.
type runes struct{ max int }

func (r runes) Encode(text string) ([]int64, []int64, bool, error) {
	if strings.Contains(text, "boom") {
		return nil, nil, false, errors.New("tokenizer failed on boom")
	}
	var ids []int64
	for _, c := range text {
		ids = append(ids, int64(c))
	}
	if len(ids) > r.max {
		return ids[:r.max], nil, true, nil
	}
	return ids, nil, false, nil
}

func end(lang string, kind domain.Kind) schemas.Marker {
	return schemas.Marker{Kind: schemas.StreamEnd, Dataset: "d", Lang: lang, ItemKind: kind, Langs: []string{"en", "th"}}
}

var cfg = Config{QueryPrefix: "q:", PassagePrefix: "p:", WithContext: true, Langs: []string{"en", "th"}}

func TestStageTokenizesRejectsAndForwardsMarkers(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 2)
	pipelinetest.Produce(t, ctx, w, w.Topics.Items(), "d/en", []schemas.Record{
		{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", QID: "1", Text: "hi"},
		{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/2", QID: "2", Text: " "},
		{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/3", QID: "3", Text: "boom"},
		{Dataset: "d", Lang: "en", Kind: domain.Candidate, ID: "en/c/1", QIDs: []string{"1"}, Text: "ab", Context: "cd"},
		{Dataset: "d", Lang: "en", Kind: domain.Candidate, ID: "en/c/2", QIDs: []string{"2"}, Text: "ok"},
	}, end("en", domain.Query), end("en", domain.Candidate))
	st := Stage(w.Topics, runes{max: 6}, cfg)
	if err := pipeline.Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	got := pipelinetest.Read(t, m, w.Topics.Tokens())

	// "q:hi" is q : h i; "p:ab cd" has 7 code points, cut to 6; "p:ok" is p : o k.
	want := map[string]schemas.Record{
		"en/q/1": {Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", QID: "1", TokenIDs: []int64{113, 58, 104, 105}},
		"en/c/1": {Dataset: "d", Lang: "en", Kind: domain.Candidate, ID: "en/c/1", QIDs: []string{"1"}, TokenIDs: []int64{112, 58, 97, 98, 32, 99}, Truncated: true},
		"en/c/2": {Dataset: "d", Lang: "en", Kind: domain.Candidate, ID: "en/c/2", QIDs: []string{"2"}, TokenIDs: []int64{112, 58, 111, 107}},
	}
	if len(got.Rows) != len(want) {
		t.Fatalf("%d token records, want %d: %+v", len(got.Rows), len(want), got.Rows)
	}
	for _, r := range got.Rows {
		if w, ok := want[r.ID]; !ok || !reflect.DeepEqual(r, w) {
			t.Errorf("token record\n got %+v\nwant %+v", r, w)
		}
	}
	// One message, on the key it came with.
	if want := []string{"d/en"}; !slices.Equal(got.Keys, want) {
		t.Errorf("keys = %v, want %v", got.Keys, want)
	}

	// The query stream had 3 records at the source; 2 were rejected here, so its marker counts 1.
	counts := map[string]int64{}
	for _, mk := range got.Markers {
		counts[mk.Lang+" "+string(mk.ItemKind)] = mk.Count
		if !slices.Equal(mk.Langs, []string{"en", "th"}) || mk.Dataset != "d" {
			t.Errorf("marker %+v lost its dataset or languages", mk)
		}
	}
	if want := map[string]int64{"en query": 1, "en candidate": 2}; !reflect.DeepEqual(counts, want) {
		t.Errorf("stream-end counts = %v, want %v", counts, want)
	}

	// Each of the 2 tokens partitions hears that each of the 2 items partitions ended (one of them empty).
	parts := map[int64]int{}
	for _, mk := range got.RunEnds {
		if mk.Parts != 2 {
			t.Errorf("run end %+v: want Parts 2", mk)
		}
		parts[mk.Part]++
	}
	if want := map[int64]int{0: 2, 1: 2}; !reflect.DeepEqual(parts, want) {
		t.Errorf("run ends per upstream partition = %v, want %v", parts, want)
	}

	reasons := pipelinetest.DeadLetters(m, w)
	if len(reasons) != 2 || !strings.Contains(strings.Join(reasons, "|"), ErrEmptyText.Error()+": en/q/2") ||
		!strings.Contains(strings.Join(reasons, "|"), "tokenizer failed on boom") {
		t.Errorf("dead letters = %q, want the empty text of en/q/2 and the tokenizer's failure on en/q/3", reasons)
	}

	if got, want := st.Counts.Snapshot(), (pipeline.Snapshot{In: 5, Out: 3, Dead: 2, Emitted: 3, Truncated: 1}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

// Every item rule and a tokenizer failure dead-letter the record with its reason; nothing goes on.
func TestStageDeadLettersEachBrokenRule(t *testing.T) {
	ok := schemas.Record{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", Text: "hi"}
	tests := []struct {
		name   string
		edit   func(*schemas.Record)
		reason string
	}{
		{"missing id", func(r *schemas.Record) { r.ID = "" }, "missing id"},
		{"unknown language", func(r *schemas.Record) { r.Lang = "xx" }, `unknown language code "xx" in en/q/1`},
		{"empty text", func(r *schemas.Record) { r.Text = "" }, "empty text: en/q/1"},
		{"invalid UTF-8", func(r *schemas.Record) { r.Text = "\xff" }, "text is not valid UTF-8: en/q/1"},
		{"over the size limit", func(r *schemas.Record) { r.Text = strings.Repeat("a", 9) }, "en/q/1 has 11 bytes, limit 10"},
		{"unknown kind", func(r *schemas.Record) { r.Kind = "other" }, `kind is neither query nor candidate: "other" in en/q/1`},
		{"tokenizer error", func(r *schemas.Record) { r.Text = "boom" }, "tokenizer failed on boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			r := ok
			tc.edit(&r)
			pipelinetest.Produce(t, ctx, w, w.Topics.Items(), "d/en", []schemas.Record{r}, end("en", domain.Query))
			c := cfg
			c.MaxTextBytes = 10
			st := Stage(w.Topics, runes{max: 100}, c)
			if err := pipeline.Run(ctx, w, st); err != nil {
				t.Fatal(err)
			}
			if reasons := pipelinetest.DeadLetters(m, w); len(reasons) != 1 || !strings.Contains(reasons[0], tc.reason) {
				t.Errorf("dead letters = %q, want one containing %q", reasons, tc.reason)
			}
			got := pipelinetest.Read(t, m, w.Topics.Tokens())
			if len(got.Rows) != 0 || len(got.Markers) != 1 || got.Markers[0].Count != 0 {
				t.Errorf("tokens = %+v, want no records and a stream end counting 0", got)
			}
			if got, want := st.Counts.Snapshot(), (pipeline.Snapshot{In: 1, Dead: 1}); got != want {
				t.Errorf("counts = %+v, want %+v", got, want)
			}
		})
	}
}

// With KeyByDataset, records and markers of every language travel on the dataset's key.
func TestStageKeysByDataset(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 2)
	pipelinetest.Produce(t, ctx, w, w.Topics.Items(), "d/th", []schemas.Record{
		{Dataset: "d", Lang: "th", Kind: domain.Query, ID: "th/q/1", QID: "1", Text: "hi"},
		{Dataset: "d", Lang: "th", Kind: domain.Candidate, ID: "th/c/1", QIDs: []string{"1"}, Text: "ab"},
	}, end("th", domain.Query), end("th", domain.Candidate))
	c := cfg
	c.KeyByDataset = true
	if err := pipeline.Run(ctx, w, Stage(w.Topics, runes{max: 6}, c)); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, msg := range m.Messages(w.Topics.Tokens().Name) {
		if schema, _ := msg.Header(schemas.HeaderSchema); schema == schemas.Markers.ID && len(msg.Key) == 0 {
			continue // a run end, sent to every partition
		}
		keys = append(keys, string(msg.Key))
	}
	// One data message and two stream ends.
	if want := []string{"d", "d", "d"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if got := pipelinetest.Read(t, m, w.Topics.Tokens()); len(got.Rows) != 2 || len(got.Markers) != 2 {
		t.Errorf("%d records and %d stream ends, want 2 and 2", len(got.Rows), len(got.Markers))
	}
}
