package pipeline

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/schemas"
)

// FuzzHandle hands the item stage a consumed message with arbitrary run and schema headers (the first
// of two schema headers counts) and an arbitrary value, and checks what the pipeline promises of any
// message: another run's is ignored, a known schema on the wrong topic stops the stage, anything else it
// cannot read is dead-lettered whole with its schema header kept, and the books balance (In = Out + Dead).
func FuzzHandle(f *testing.F) {
	items, err := schemas.Item.Encode([]schemas.Record{{Dataset: "xquad-r", Lang: "en", Kind: domain.Query, ID: "en/q/a", QID: "a", Text: "Who?"},
		{Dataset: "xquad-r", Lang: "en", Kind: domain.Candidate, ID: "en/c/0.0.0", QIDs: []string{"a"}}})
	if err != nil {
		f.Fatal(err)
	}
	marker, err := schemas.Markers.Encode([]schemas.Marker{{Kind: schemas.StreamEnd, Dataset: "xquad-r", Lang: "en", ItemKind: domain.Query, Count: 1},
		{Kind: schemas.RunEnd, Part: 0, Parts: 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("r", schemas.Item.ID, "", items)
	f.Add("r", schemas.Markers.ID, schemas.Item.ID, marker)
	f.Add("r", schemas.Tokens.ID, "", items)
	f.Add("other", schemas.Item.ID, "", items)
	f.Add("r", "", schemas.Item.ID, items[:len(items)/2])
	f.Fuzz(func(t *testing.T, run, schema, schema2 string, value []byte) {
		w := Worker{Topics: Topics{Prefix: "f.", Partitions: 1}, RunID: "r"}
		s := &Stage[schemas.Record]{Name: "tokenize", Input: w.Topics.Items(),
			Process: func(_ context.Context, _ string, rows []schemas.Record, out *Output) error {
				for i, r := range rows {
					if r.Text == "" {
						out.Reject(i, r, errors.New("no text"))
					}
				}
				return nil
			}}
		m := Message{Topic: s.Input.Name, Offset: 7, Value: value, Headers: []Header{{HeaderRun, []byte(run)},
			{schemas.HeaderSchema, []byte(schema)}, {schemas.HeaderSchema, []byte(schema2)}}}
		out := newEmitter(s.Name, w).output(&m)
		err := handle(context.Background(), w, s, m, newPartState(), out)
		c := s.Counts.Snapshot()
		if c.In != c.Out+c.Dead {
			t.Fatalf("books: in %d, out %d, dead %d", c.In, c.Out, c.Dead)
		}
		switch {
		case run != "r":
			if err != nil || c != (Snapshot{}) || len(out.msgs) > 0 {
				t.Fatalf("another run's message: err %v, counts %+v, %d messages out", err, c, len(out.msgs))
			}
			return
		case schema != s.Input.Schema.ID && schema != schemas.Markers.ID && schemas.Known(schema):
			if err == nil || !strings.Contains(err.Error(), s.Input.Name) {
				t.Fatalf("a %s message on the items topic: err %v, want one naming the topic", schema, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("handle: %v", err)
		}
		if c.DeadMessages > 0 {
			if c.DeadMessages != 1 || c.In != 0 || len(out.msgs) != 1 {
				t.Fatalf("dead message: counts %+v, %d messages out", c, len(out.msgs))
			}
			dl := out.msgs[0]
			if got, _ := dl.Header(schemas.HeaderSchema); dl.Topic != w.Topics.DeadLetter() || got != schema {
				t.Fatalf("dead letter to %s with schema header %q, want %s and %q", dl.Topic, got, w.Topics.DeadLetter(), schema)
			}
			if reason, _ := dl.Header(HeaderReason); reason == "" {
				t.Fatal("dead letter has no reason")
			}
			return
		}
		if schema == schemas.Markers.ID && (c.In != 0 || len(out.msgs) != 0) {
			t.Fatalf("markers counted as records: %+v, %d messages out", c, len(out.msgs))
		}
		if int64(len(out.msgs)) != c.Dead {
			t.Fatalf("%d records rejected, %d dead letters", c.Dead, len(out.msgs))
		}
	})
}

// FuzzResume reads arbitrary committed offset metadata, which comes back from the broker: what resume
// makes of it must survive commitAt and resume again unchanged.
func FuzzResume(f *testing.F) {
	f.Add("run=r parts=4 ended=0,2")
	f.Add("run=r parts=1 ended=")
	f.Add("run=other parts=2 ended=1")
	f.Add("ended=-3,x,7 run=r  parts=99999999999999999999")
	f.Fuzz(func(t *testing.T, meta string) {
		a := newPartState()
		a.resume(meta, "r")
		b := newPartState()
		b.resume(a.commitAt(true, "r").Meta, "r")
		if a.parts != b.parts || !slices.Equal(slices.Sorted(maps.Keys(a.ended)), slices.Sorted(maps.Keys(b.ended))) {
			t.Fatalf("resume(%q): parts %d ended %v; after commit and resume: parts %d ended %v", meta, a.parts, a.ended, b.parts, b.ended)
		}
	})
}
