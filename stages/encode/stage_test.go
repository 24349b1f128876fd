package encode

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/encoder/ort"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

// sumLen is an embedder whose vector for ids is [len(ids), sum(ids)]: every vector can be worked by hand,
// and one given to the wrong row shows. It fails on a row holding id 666.
type sumLen struct{ calls int }

func (e *sumLen) Dim() int { return 2 }

func (e *sumLen) Embed(_ context.Context, b ort.Batch) ([]float32, error) {
	e.calls++
	var out []float32
	for _, ids := range b.IDs {
		var sum int64
		for _, id := range ids {
			if id == 666 {
				return nil, errors.New("model failed")
			}
			sum += id
		}
		out = append(out, float32(len(ids)), float32(sum))
	}
	return out, nil
}

func tok(ds, lang string, kind domain.Kind, id string, ids ...int64) schemas.Record {
	return schemas.Record{Dataset: ds, Lang: lang, Kind: kind, ID: id, TokenIDs: ids}
}

func end(ds, lang string, kind domain.Kind) schemas.Marker {
	return schemas.Marker{Kind: schemas.StreamEnd, Dataset: ds, Lang: lang, ItemKind: kind}
}

func TestStageEmbedsKeysByDatasetAndForwardsMarkers(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 2)
	// One message keyed by dataset and language; d2's record in it shows that the output is keyed by each
	// record's dataset, and so is each stream-end marker.
	pipelinetest.Produce(t, ctx, w, w.Topics.Tokens(), "d1/en", []schemas.Record{
		tok("d1", "en", domain.Query, "en/q/1", 5), tok("d1", "en", domain.Query, "en/q/2", 1, 2, 3),
		tok("d1", "en", domain.Candidate, "en/c/1", 4, 4), tok("d2", "en", domain.Query, "en/q/1", 9),
	}, end("d1", "en", domain.Query), end("d1", "en", domain.Candidate), end("d2", "en", domain.Query))
	emb := &sumLen{}
	// A budget of 4 padded tokens: lengths 3, 2, 1, 1 go as {3}, {2, 1}, {1}.
	st := Stage(w.Topics, emb, Config{Model: "m", TokenBudget: 4})
	if err := pipeline.Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	got := pipelinetest.Read(t, m, w.Topics.Embeddings())
	want := map[string][]float32{"d1 en/q/1": {1, 5}, "d1 en/q/2": {3, 6}, "d1 en/c/1": {2, 8}, "d2 en/q/1": {1, 9}}
	if len(got.Rows) != len(want) {
		t.Fatalf("%d embeddings, want %d: %+v", len(got.Rows), len(want), got.Rows)
	}
	for _, r := range got.Rows {
		k := r.Dataset + " " + r.ID
		if !slices.Equal(r.Vector, want[k]) || r.Model != "m" {
			t.Errorf("%s: vector %v model %q, want %v and model m", k, r.Vector, r.Model, want[k])
		}
		if len(r.TokenIDs) != 0 {
			t.Errorf("%s: embedding carries token ids %v", k, r.TokenIDs)
		}
	}
	if emb.calls != 3 {
		t.Errorf("%d embedder calls, want 3", emb.calls)
	}
	if want := []string{"d1", "d2"}; !slices.Equal(got.Keys, want) {
		t.Errorf("keys = %v, want %v", got.Keys, want)
	}

	// Stream ends keep their counts and travel on the dataset's key, after its records.
	ends := map[string]int64{}
	for _, msg := range m.Messages(w.Topics.Embeddings().Name) {
		if s, _ := msg.Header(schemas.HeaderSchema); s != schemas.Markers.ID {
			continue
		}
		ms, err := schemas.Markers.Decode(msg.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range ms {
			if mk.Kind != schemas.StreamEnd {
				continue
			}
			if string(msg.Key) != mk.Dataset {
				t.Errorf("marker %+v on key %q, want the dataset's key", mk, msg.Key)
			}
			ends[mk.Dataset+" "+mk.Lang+" "+string(mk.ItemKind)] = mk.Count
		}
	}
	if want := map[string]int64{"d1 en query": 2, "d1 en candidate": 1, "d2 en query": 1}; !reflect.DeepEqual(ends, want) {
		t.Errorf("stream-end counts = %v, want %v", ends, want)
	}
	if len(got.RunEnds) != 4 {
		t.Errorf("%d run ends, want 4 (2 embeddings partitions x 2 tokens partitions)", len(got.RunEnds))
	}
	if got, want := st.Counts.Snapshot(), (pipeline.Snapshot{In: 4, Out: 4, Emitted: 4}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	if d := pipelinetest.DeadLetters(m, w); len(d) != 0 {
		t.Errorf("dead letters %q, want none", d)
	}
}

// A model failure stops the stage with an error that names the first record of the call: it is not the
// record's fault, so nothing is dead-lettered (records the model cannot take are; see
// TestStageDeadLettersTokensTheModelCannotTake).
func TestStageStopsOnAModelFailure(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 1)
	pipelinetest.Produce(t, ctx, w, w.Topics.Tokens(), "d/en", []schemas.Record{tok("d", "en", domain.Query, "en/q/9", 666)}, end("d", "en", domain.Query))
	err := pipeline.Run(ctx, w, Stage(w.Topics, &sumLen{}, Config{Model: "m"}))
	if want := "encode en/q/9..: model failed"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one containing %q", err, want)
	}
	if got := pipelinetest.Read(t, m, w.Topics.Embeddings()); len(got.Rows) != 0 {
		t.Errorf("embeddings written despite the failure: %+v", got.Rows)
	}
}

// A record the model would fail on (an id outside its vocabulary makes ONNX Runtime fail the whole call)
// is dead-lettered with a reason naming it and the field, and the rest of its message is embedded: before,
// the stage stopped, and every restart stopped again at the same offset.
func TestStageDeadLettersTokensTheModelCannotTake(t *testing.T) {
	good1, good2 := tok("d", "en", domain.Query, "en/q/1", 1, 2), tok("d", "en", domain.Query, "en/q/3", 99)
	tests := []struct {
		name   string
		bad    schemas.Record
		reason string
	}{
		{"an id past the vocabulary", tok("d", "en", domain.Query, "en/q/2", 5, 100, 7),
			`record dataset "d" lang "en" id "en/q/2": field token_ids[1]: id 100 outside the model's vocabulary [0, 100)`},
		{"a far larger id", tok("d", "en", domain.Query, "en/q/2", 1<<40),
			`record dataset "d" lang "en" id "en/q/2": field token_ids[0]: id 1099511627776 outside the model's vocabulary [0, 100)`},
		{"a negative id", tok("d", "en", domain.Query, "en/q/2", 3, -1),
			`record dataset "d" lang "en" id "en/q/2": field token_ids[1]: negative id -1`},
		{"type ids not one a token", schemas.Record{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/2", TokenIDs: []int64{1, 2}, TypeIDs: []int64{0}},
			`record dataset "d" lang "en" id "en/q/2": field type_ids: 1 type ids for 2 token ids`},
		{"more ids than the model takes", tok("d", "en", domain.Query, "en/q/2", 1, 2, 3, 4, 5, 6, 7, 8, 9),
			`record dataset "d" lang "en" id "en/q/2": field token_ids: 9 ids, over the model's maximum of 8`},
		{"a negative type id", schemas.Record{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/2", TokenIDs: []int64{1, 2}, TypeIDs: []int64{0, -3}},
			`record dataset "d" lang "en" id "en/q/2": field type_ids[1]: negative id -3`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			pipelinetest.Produce(t, ctx, w, w.Topics.Tokens(), "d/en", []schemas.Record{good1, tc.bad, good2}, end("d", "en", domain.Query))
			// vocab checks its ids as ONNX Runtime's Gather would, so the test fails without the stage's check.
			st := Stage(w.Topics, &vocab{sumLen{}, 100, 8}, Config{Model: "m", Vocab: 100, MaxTokens: 8})
			if err := pipeline.Run(ctx, w, st); err != nil {
				t.Fatalf("the stage stopped: %v", err)
			}
			got := pipelinetest.Read(t, m, w.Topics.Embeddings())
			var ids []string
			for _, r := range got.Rows {
				ids = append(ids, r.ID)
			}
			slices.Sort(ids)
			if want := []string{"en/q/1", "en/q/3"}; !slices.Equal(ids, want) {
				t.Errorf("embedded %v, want %v", ids, want)
			}
			if d := pipelinetest.DeadLetters(m, w); len(d) != 1 || !strings.Contains(d[0], tc.reason) {
				t.Errorf("dead letters %q, want one holding %q", d, tc.reason)
			}
			if dl := m.Messages(w.Topics.DeadLetter()); len(dl) == 1 {
				if i, _ := dl[0].Header(pipeline.HeaderRecord); i != "1" {
					t.Errorf("dead letter names record %s of its message, want 1", i)
				}
				if s, _ := dl[0].Header(pipeline.HeaderStage); s != "encode" {
					t.Errorf("dead letter from stage %q, want encode", s)
				}
			}
			// In = Out + Dead, and Emitted is what the scorer will read.
			if got, want := st.Counts.Snapshot(), (pipeline.Snapshot{In: 3, Out: 2, Dead: 1, Emitted: 2}); got != want {
				t.Errorf("counts = %+v, want %+v", got, want)
			}
			if n := streamEnd(t, m, w, "d", "en"); n != 2 {
				t.Errorf("stream end counts %d records, want 2", n)
			}
		})
	}
}

// vocab is an embedder that fails a call holding an id outside [0, n) or a row longer than max, as ONNX
// Runtime does on a transformer.
type vocab struct {
	sumLen
	n   int64
	max int
}

func (v *vocab) Embed(ctx context.Context, b ort.Batch) ([]float32, error) {
	for _, ids := range b.IDs {
		if len(ids) > v.max {
			return nil, fmt.Errorf("row of %d ids past the position table", len(ids))
		}
		for _, id := range ids {
			if id < 0 || id >= v.n {
				return nil, fmt.Errorf("indices element out of data bounds, idx=%d", id)
			}
		}
	}
	for i, types := range b.TypeIDs {
		if len(types) != len(b.IDs[i]) {
			return nil, fmt.Errorf("row %d: %d ids but %d token types", i, len(b.IDs[i]), len(types))
		}
	}
	return v.sumLen.Embed(ctx, b)
}

func streamEnd(t *testing.T, m *pipeline.Memory, w pipeline.Worker, ds, lang string) int64 {
	t.Helper()
	for _, msg := range m.Messages(w.Topics.Embeddings().Name) {
		if s, _ := msg.Header(schemas.HeaderSchema); s != schemas.Markers.ID {
			continue
		}
		ms, err := schemas.Markers.Decode(msg.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range ms {
			if mk.Kind == schemas.StreamEnd && mk.Dataset == ds && mk.Lang == lang {
				return mk.Count
			}
		}
	}
	t.Fatalf("no stream end for %s %s", ds, lang)
	return 0
}

// Records with and without token type ids in one call: those without get zeros, as they would in a call
// of their own. Before, the call failed and the stage with it.
func TestEmbedGivesRowsWithoutTypeIDsZeros(t *testing.T) {
	rows := []schemas.Record{
		{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", TokenIDs: []int64{1}, TypeIDs: []int64{1}},
		tok("d", "en", domain.Query, "en/q/2", 2, 3),
	}
	var got ort.Batch
	emb := embedFunc(func(b ort.Batch) { got = b })
	if err := Embed(context.Background(), emb, Config{}, rows); err != nil {
		t.Fatal(err)
	}
	// The call takes the longer row first.
	if want := [][]int64{{0, 0}, {1}}; !reflect.DeepEqual(got.TypeIDs, want) {
		t.Errorf("type ids %v, want %v", got.TypeIDs, want)
	}
}

type embedFunc func(ort.Batch)

func (f embedFunc) Dim() int { return 1 }

func (f embedFunc) Embed(_ context.Context, b ort.Batch) ([]float32, error) {
	f(b)
	return make([]float32, len(b.IDs)), nil
}
