package schemas

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"xling/domain"
)

// fuzzSchema decodes data as s. A message that decodes must hold no more rows than it has bytes (every
// schema's first column is a string or an int64, at least four bytes a row uncompressed), and re-encoding what was
// decoded must be stable: Encode(Decode(Encode(rows))) == Encode(rows). A message that does not decode
// must give an error naming the schema, not a crash. Either way, Decode gives back every buffer it took.
func fuzzSchema[T any](t *testing.T, s *Schema[T], data []byte) {
	if len(data) > maxFuzzBytes {
		return
	}
	decodeChecked(t, s, data)
	// Only the schema's own opening message passes Decode's first check, so a mutation of it ends there:
	// data read as what follows that message reaches the record batches, where the parsing is.
	if !bytes.HasPrefix(data, s.head) {
		decodeChecked(t, s, append(bytes.Clone(s.head), data...))
	}
}

func decodeChecked[T any](t *testing.T, s *Schema[T], data []byte) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows, err := s.Decode(data, WithAllocator(mem))
	if err != nil {
		if !strings.Contains(err.Error(), s.ID) {
			t.Fatalf("error %q does not name schema %s", err, s.ID)
		}
		return
	}
	if len(rows) > len(data) {
		t.Fatalf("%s: %d rows from a %d-byte message", s.ID, len(rows), len(data))
	}
	enc, err := s.Encode(rows)
	if err != nil {
		t.Fatalf("%s: re-encode decoded rows: %v", s.ID, err)
	}
	again, err := s.Decode(enc)
	if err != nil {
		t.Fatalf("%s: decode re-encoded rows: %v", s.ID, err)
	}
	if len(again) != len(rows) {
		t.Fatalf("%s: %d rows re-encoded decode to %d", s.ID, len(rows), len(again))
	}
	enc2, err := s.Encode(again)
	if err != nil {
		t.Fatalf("%s: re-encode: %v", s.ID, err)
	}
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("%s: encoding is not stable under decode", s.ID)
	}
}

// maxFuzzBytes bounds the inputs worth an execution: the seeds are under 2 KB, and a larger input only
// costs time per execution without reaching code a small one does not.
const maxFuzzBytes = 16 << 10

// fuzzSeeds are one small message of every schema.
func fuzzSeeds(f *testing.F) {
	rec := []Record{{Dataset: "xquad-r", Lang: "th", Kind: domain.Candidate, ID: "th/c/0.0.1", QIDs: []string{"a", "b"},
		Text: "สวัสดี", Context: "สวัสดี ครับ", TokenIDs: []int64{5, 0, 9}, TypeIDs: []int64{0, 0, 0}, Truncated: true,
		Model: "m", Vector: []float32{0.5, -1}}, {Dataset: "xquad-r", Lang: "en", Kind: domain.Query, ID: "en/q/a", QID: "a", Text: "Who?"}}
	// Each message is added without its schema message (fuzzSchema puts that back): a few hundred bytes
	// of record batch, cheap to mutate and to minimize.
	add := func(b []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		for _, head := range [][]byte{Item.head, Tokens.head, Embedding.head, Markers.head, Rankings.head, Metrics.head, Groups.head, Pairs.head} {
			if bytes.HasPrefix(b, head) {
				b = b[len(head):]
				break
			}
		}
		f.Add(b)
	}
	add(Item.Encode(rec))
	add(Tokens.Encode(rec))
	add(Embedding.Encode(rec))
	add(Markers.Encode([]Marker{{Kind: StreamEnd, Dataset: "xquad-r", Lang: "th", ItemKind: domain.Query, Count: 7, Langs: []string{"en", "th"}},
		{Kind: RunEnd, Part: 1, Parts: 4}}))
	add(Rankings.Encode([]Ranking{{Dataset: "xquad-r", Model: "m", Setting: "cross", QueryID: "en/q/a", QueryLang: "en", CandLang: "th",
		CandidateIDs: []string{"th/c/0.0.1", "th/c/0.0.2"}, Scores: []float32{0.5, 0.25}, Relevant: []int64{1}}}))
	add(Metrics.Encode([]Metric{{Dataset: "xquad-r", Model: "m", Setting: "mono", QueryLang: "en", CandLang: "en", Name: "map", Value: 0.25, Queries: 3}}))
	add(Groups.Encode([]GroupRow{{ID: "ntrex:1", Source: "ntrex", Langs: []string{"en", "de"}, Queries: []string{"Hi.", "Hallo."}, Passages: []string{"", ""}}}))
	add(Pairs.Encode([]PairRow{{BatchID: 1, Kind: "cross", Source: "ntrex", Group: "ntrex:1", QLang: "en", PLang: "de", Query: "Hi.", Passage: "Hallo."}}))
}

// FuzzDecode decodes arbitrary bytes as every schema a topic carries.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzSchema(t, Item, data)
		fuzzSchema(t, Tokens, data)
		fuzzSchema(t, Embedding, data)
		fuzzSchema(t, Markers, data)
		fuzzSchema(t, Rankings, data)
		fuzzSchema(t, Metrics, data)
		fuzzSchema(t, Groups, data)
		fuzzSchema(t, Pairs, data)
	})
}

// FuzzDecodeMarkers decodes arbitrary bytes as the stream-end markers every stage reads beside its data.
func FuzzDecodeMarkers(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSchema(t, Markers, data) })
}
