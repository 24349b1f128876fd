package transformer_test

import (
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/encoder/ort"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
	"xling/stages/encode"
)

// ONNX Runtime fails a whole call on a row it cannot embed (an id past the embedding table, a row past
// the position table). The encode stage, told the model's vocabulary and maximum length, dead-letters
// such a record and embeds the rest of its message with the real model; without the check the stage
// stops, and a restart would stop at the same offset again.
func TestEncodeStageDeadLettersRowsThatFailONNXRuntime(t *testing.T) {
	rt := newRuntime(t)
	s := open(t, rt, model(t, "tiny", tiny), ort.SessionConfig{Pooling: ort.PoolingMean, IntraOpThreads: 1})
	rec := func(id string, ids ...int64) schemas.Record {
		return schemas.Record{Dataset: "d", Lang: "en", Kind: domain.Query, ID: id, TokenIDs: ids}
	}
	long := make([]int64, tiny.maxLen()+1)
	for i := range long {
		long[i] = 5
	}
	tests := []struct {
		name   string
		bad    schemas.Record
		reason string
	}{
		{"an id past the embedding table", rec("en/q/2", 2, int64(tiny.Vocab), 3), "field token_ids[1]: id 1000 outside the model's vocabulary [0, 1000)"},
		{"a row past the position table", rec("en/q/2", long...), "field token_ids: 65 ids, over the model's maximum of 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// ONNX Runtime itself refuses the row: the check is not stricter than the model.
			if _, err := s.Embed(t.Context(), ort.Batch{IDs: [][]int64{tc.bad.TokenIDs}}); err == nil {
				t.Fatalf("ONNX Runtime embedded %v; the case shows nothing", tc.bad.TokenIDs)
			}
			ctx, m, w := pipelinetest.Setup(t, 1)
			rows := []schemas.Record{rec("en/q/1", 2, 7, 3), tc.bad, rec("en/q/3", 2, 9, 9, 3)}
			pipelinetest.Produce(t, ctx, w, w.Topics.Tokens(), "d/en", rows,
				schemas.Marker{Kind: schemas.StreamEnd, Dataset: "d", Lang: "en", ItemKind: domain.Query})
			st := encode.Stage(w.Topics, s, encode.Config{Model: "tiny", Vocab: tiny.Vocab, MaxTokens: tiny.maxLen()})
			if err := pipeline.Run(ctx, w, st); err != nil {
				t.Fatalf("the stage stopped: %v", err)
			}
			var ids []string
			for _, r := range pipelinetest.Read(t, m, w.Topics.Embeddings()).Rows {
				if len(r.Vector) != tiny.Hidden {
					t.Errorf("%s: %d floats, want %d", r.ID, len(r.Vector), tiny.Hidden)
				}
				ids = append(ids, r.ID)
			}
			slices.Sort(ids)
			if want := []string{"en/q/1", "en/q/3"}; !slices.Equal(ids, want) {
				t.Errorf("embedded %v, want %v", ids, want)
			}
			if d := pipelinetest.DeadLetters(m, w); len(d) != 1 || !strings.Contains(d[0], tc.reason) || !strings.Contains(d[0], `id "en/q/2"`) {
				t.Errorf("dead letters %q, want one naming en/q/2 and saying %q", d, tc.reason)
			}
			if got, want := st.Counts.Snapshot(), (pipeline.Snapshot{In: 3, Out: 2, Dead: 1, Emitted: 2}); got != want {
				t.Errorf("counts = %+v, want %+v", got, want)
			}
		})
	}
}
