package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestRecordSchemasRoundTrip(t *testing.T) {
	rows := []Record{
		{Dataset: "xquad-r", Lang: "th", Kind: "candidate", ID: "th/c/0.0.1", QIDs: []string{"a", "b"}, Text: "สวัสดี", Context: "สวัสดี ครับ"},
		{Dataset: "xquad-r", Lang: "en", Kind: "query", ID: "en/q/a", QID: "a", Text: "Who?"},
	}
	tests := []struct {
		name   string
		schema *Schema[Record]
		fill   func(*Record)
		strip  func(Record) Record // the columns a schema does not carry
	}{
		{"item", Item, func(*Record) {}, func(r Record) Record { return r }},
		{"tokens", Tokens, func(r *Record) { r.TokenIDs = []int64{5, 0, 9}; r.TypeIDs = []int64{}; r.Truncated = true },
			func(r Record) Record { r.Text, r.Context = "", ""; r.TypeIDs = nil; return r }},
		{"embedding", Embedding, func(r *Record) { r.Model = "m"; r.Vector = []float32{0.5, -1} },
			func(r Record) Record { r.Text, r.Context = "", ""; return r }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := make([]Record, len(rows))
			for i, r := range rows {
				r.QIDs = append([]string(nil), r.QIDs...)
				tc.fill(&r)
				in[i] = r
			}
			data, err := tc.schema.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tc.schema.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range in {
				want := tc.strip(in[i])
				if !reflect.DeepEqual(out[i], want) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, out[i], want)
				}
			}
		})
	}
}

func TestDecodeRejectsOtherSchemas(t *testing.T) {
	data, err := Markers.Encode([]Marker{{Kind: RunEnd}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Item.Decode(data); !errors.Is(err, ErrSchema) {
		t.Fatalf("decoding a marker as an item: err = %v, want ErrSchema", err)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	good, err := Item.Encode([]Record{{ID: "x", Text: "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("not arrow"),
		"truncated": good[:len(good)/2],
	} {
		if _, err := Item.Decode(data); err == nil {
			t.Errorf("%s: decoded without error", name)
		} else if !strings.Contains(err.Error(), "xling.item.v1") {
			t.Errorf("%s: error %q does not name the schema", name, err)
		}
	}
}

// A compressed buffer declares its uncompressed size and arrow-go allocates that before reading it: a
// message of a few hundred bytes can ask for any amount of memory. Decode holds decoding to a budget of
// the message's size, so such a message is an error, while a compressed message within it still decodes.
func TestDecodeHoldsACompressedMessageToItsBudget(t *testing.T) {
	compressed := func(text string) []byte {
		t.Helper()
		b := array.NewRecordBuilder(memory.DefaultAllocator, Item.Arrow())
		defer b.Release()
		row := Record{ID: "x", Text: text}
		for c, col := range Item.Columns {
			col.put(b.Field(c), []Record{row})
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(Item.Arrow()), ipc.WithZstd())
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"a short text", "hello", true},
		{"4 MiB of one letter", strings.Repeat("a", 4<<20), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := compressed(tc.text)
			rows, err := Item.Decode(data)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("%d-byte message: %v", len(data), err)
			case tc.ok && (len(rows) != 1 || rows[0].Text != tc.text):
				t.Fatalf("decoded %d rows, want the one written", len(rows))
			case !tc.ok && err == nil:
				t.Fatalf("a %d-byte message decoded to %d bytes of text", len(data), len(rows[0].Text))
			case !tc.ok && !strings.Contains(err.Error(), "budget"):
				t.Fatalf("error %q does not say the budget was passed", err)
			}
		})
	}
}

// A message after the schema declares its metadata's length, and arrow-go makes a buffer that long
// before reading it. Decode refuses a length past the message's own size: without the limit, a few
// hundred bytes had 2 GB made and zeroed (seconds each, and the fuzzer stalled on them).
func TestDecodeRefusesMetadataLongerThanTheMessage(t *testing.T) {
	good, err := Markers.Encode([]Marker{{Kind: RunEnd}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		length uint32
	}{
		{"2 GB", 0x7fff_fff0},
		{"a byte past the message", 0}, // filled in below: len(data)+1
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Clone(good[:len(Markers.head)])
			// The next message: a continuation token, then the metadata length.
			data = append(data, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
			n := tc.length
			if n == 0 {
				n = uint32(len(data) + 1)
			}
			data[len(data)-4], data[len(data)-3], data[len(data)-2], data[len(data)-1] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
			_, err := Markers.Decode(data)
			if err == nil || !strings.Contains(err.Error(), "exceeds limit") || !strings.Contains(err.Error(), Markers.ID) {
				t.Fatalf("err = %v, want the metadata length refused, naming %s", err, Markers.ID)
			}
		})
	}
}

// Rankings and metrics round-trip through Arrow IPC, and their label columns are dictionary-encoded, so
// a batch of many rows stores each repeated label once (the bulk of what crosses the broker).
func TestResultSchemasRoundTripWithDictionaryLabels(t *testing.T) {
	var rankings []Ranking
	var metrics []Metric
	for i := range 300 {
		lang := []string{"en", "th", "zh"}[i%3]
		r := Ranking{Dataset: "xquad-r", Model: "xling-hybrid-v1-s1", Setting: "cross", QueryID: fmt.Sprint("en/q/", i),
			QueryLang: "en", CandLang: lang, CandidateIDs: []string{"c" + lang, "d" + lang, ""}, Scores: []float32{float32(i) / 7, -0.5, 0}}
		if i%3 == 0 {
			r.Relevant = []int64{1, 3}
		}
		rankings = append(rankings, r)
		metrics = append(metrics, Metric{Dataset: "mlqa-r", Model: "m", Setting: "multi", QueryLang: lang, CandLang: "*",
			QueryID: "", Name: []string{"map", "mrr@10"}[i%2], Value: float64(i) / 3, Queries: int64(i)})
	}
	rdata, err := Rankings.Encode(rankings)
	if err != nil {
		t.Fatal(err)
	}
	rout, err := Rankings.Decode(rdata)
	if err != nil || !reflect.DeepEqual(rout, rankings) {
		t.Fatalf("rankings round trip: err %v, equal %v", err, reflect.DeepEqual(rout, rankings))
	}
	mdata, err := Metrics.Encode(metrics)
	if err != nil {
		t.Fatal(err)
	}
	mout, err := Metrics.Decode(mdata)
	if err != nil || !reflect.DeepEqual(mout, metrics) {
		t.Fatalf("metrics round trip: err %v, equal %v", err, reflect.DeepEqual(mout, metrics))
	}
	// 300 rows of a 18-byte model name would take 5,400 bytes as plain strings.
	if n := strings.Count(string(rdata), "xling-hybrid-v1-s1"); n != 1 {
		t.Errorf("the model label is stored %d times in the rankings batch, want once", n)
	}
}
