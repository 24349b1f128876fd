package encode

import (
	"context"
	"errors"
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

// A record the model cannot embed stops the stage with an error that names it: encode has no per-record
// rejects, since a model failure is not the record's fault.
func TestStageStopsOnAModelFailure(t *testing.T) {
	tests := []struct {
		name string
		rows []schemas.Record
		want string
	}{
		{"embedder error", []schemas.Record{tok("d", "en", domain.Query, "en/q/9", 666)}, "encode en/q/9..: model failed"},
		{"type ids on some rows only", []schemas.Record{
			{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", TokenIDs: []int64{1}, TypeIDs: []int64{0}},
			tok("d", "en", domain.Query, "en/q/2", 2),
		}, "mix records with and without token type ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 1)
			pipelinetest.Produce(t, ctx, w, w.Topics.Tokens(), "d/en", tc.rows, end("d", "en", domain.Query))
			err := pipeline.Run(ctx, w, Stage(w.Topics, &sumLen{}, Config{Model: "m"}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if got := pipelinetest.Read(t, m, w.Topics.Embeddings()); len(got.Rows) != 0 {
				t.Errorf("embeddings written despite the failure: %+v", got.Rows)
			}
		})
	}
}
