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
			col.put(memory.DefaultAllocator, b.Field(c), []Record{row})
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

// Encode and Decode give back every Arrow buffer they take, on success and on every way a message can be
// bad: a stage decodes millions of messages, and with an allocator outside Go's heap (or one that counts) a
// buffer kept per message is a leak.
func TestCodecReleasesWhatItAllocates(t *testing.T) {
	rows := []Record{
		{Dataset: "xquad-r", Lang: "th", Kind: "candidate", ID: "th/c/0.0.1", QIDs: []string{"a", "b"}, Text: "สวัสดี", Context: "สวัสดี ครับ",
			TokenIDs: []int64{5, 0, 9}, TypeIDs: []int64{0, 0, 0}, Model: "m", Vector: []float32{0.5, -1}},
		{Dataset: "xquad-r", Lang: "en", Kind: "query", ID: "en/q/a", QID: "a", Text: "Who?"},
	}
	good, err := Embedding.Encode(rows)
	if err != nil {
		t.Fatal(err)
	}
	marker, err := Markers.Encode([]Marker{{Kind: StreamEnd, Dataset: "xquad-r", Langs: []string{"en", "th"}}})
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := Metrics.Encode([]Metric{{Dataset: "xquad-r", Model: "m", Setting: "mono", QueryLang: "en", CandLang: "en", Name: "map"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     func(Option) error
		wantErr bool
	}{
		{"encode", func(o Option) error { _, err := Embedding.Encode(rows, o); return err }, false},
		{"encode dictionary labels", func(o Option) error {
			_, err := Metrics.Encode([]Metric{{Dataset: "d", Model: "m", Setting: "cross", QueryLang: "en", CandLang: "de"}}, o)
			return err
		}, false},
		{"decode", func(o Option) error { _, err := Embedding.Decode(good, o); return err }, false},
		{"decode dictionary labels", func(o Option) error { _, err := Metrics.Decode(metrics, o); return err }, false},
		{"decode marker", func(o Option) error { _, err := Markers.Decode(marker, o); return err }, false},
		{"decode another schema", func(o Option) error { _, err := Embedding.Decode(marker, o); return err }, true},
		{"decode truncated", func(o Option) error { _, err := Embedding.Decode(good[:len(good)-len(good)/3], o); return err }, true},
		{"decode body cut short", func(o Option) error { _, err := Embedding.Decode(good[:len(good)-24], o); return err }, true},
		// arrow-go's reader panics half way through building this batch, recovers, and leaks the body.
		{"decode corrupt record batch", func(o Option) error {
			bad := bytes.Clone(good)
			for i := len(bad) / 2; i < len(bad); i += 5 {
				bad[i] ^= 0xff
			}
			_, err := Embedding.Decode(bad, o)
			return err
		}, true},
		{"decode corrupt body", func(o Option) error {
			bad := bytes.Clone(good)
			for i := len(Embedding.head) + 8; i < len(bad); i += 7 {
				bad[i] ^= 0xff
			}
			_, err := Embedding.Decode(bad, o)
			return err
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			err := tc.run(WithAllocator(mem))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			mem.AssertSize(t, 0)
		})
	}
}

// Without an allocator, or with a nil one, the codec uses memory.DefaultAllocator: callers that do not care
// pass nothing.
func TestCodecDefaultsToTheDefaultAllocator(t *testing.T) {
	for name, opts := range map[string][]Option{"no option": nil, "nil allocator": {WithAllocator(nil)}} {
		data, err := Item.Encode([]Record{{ID: "x", Text: "hello"}}, opts...)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		rows, err := Item.Decode(data, opts...)
		if err != nil || len(rows) != 1 || rows[0].Text != "hello" {
			t.Fatalf("%s: decode = %+v, %v", name, rows, err)
		}
	}
}
