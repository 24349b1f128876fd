package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"xling/domain"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
	"xling/sinks"
)

// memStore keeps what was written, by key, and fails the writes it is told to.
type memStore struct {
	rows  map[string][]float32
	fails int
}

func (m *memStore) Write(_ context.Context, rows []sinks.EmbeddingRow) error {
	if m.fails > 0 {
		m.fails--
		return errors.New("server down")
	}
	for _, r := range rows {
		m.rows[r.Key()] = r.Vector
	}
	return nil
}

func conv(r schemas.Record) sinks.EmbeddingRow {
	return sinks.EmbeddingRow{RunID: "run1", Model: r.Model, Dataset: r.Dataset, ItemID: r.ID, Lang: r.Lang, Kind: string(r.Kind), Vector: r.Vector}
}

var embeddings = []schemas.Record{
	{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", Model: "m", Vector: []float32{1, 0}},
	{Dataset: "d", Lang: "en", Kind: domain.Candidate, ID: "en/c/1", Model: "m", Vector: []float32{0, 1}},
	{Dataset: "d", Lang: "en", Kind: domain.Candidate, ID: "en/c/2", Model: "m"},                      // no vector: rejected
	{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/1", Model: "m", Vector: []float32{1, 0}}, // a replay
}

func TestStoreUpsertsEveryEmbeddingOnce(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 1)
	pipelinetest.Produce(t, ctx, w, w.Topics.Embeddings(), "d", embeddings)
	db := &memStore{rows: map[string][]float32{}}
	st := Stage(w.Topics, db, conv)
	if err := pipeline.Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	if len(db.rows) != 2 || !slices.Equal(db.rows[conv(embeddings[1]).Key()], []float32{0, 1}) {
		t.Errorf("stored %v, want the two good embeddings", db.rows)
	}
	if got, want := st.Counts.Snapshot(), (pipeline.Snapshot{In: 4, Out: 3, Dead: 1, Emitted: 3}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if dl := pipelinetest.DeadLetters(m, w); len(dl) != 1 || !strings.Contains(dl[0], "empty vector") {
		t.Errorf("dead letters %q, want the embedding without a vector", dl)
	}
}

// A failed write stops the stage before its offsets are committed: started again, it stores everything.
func TestStoreFailureCommitsNothingAndARestartStoresAll(t *testing.T) {
	ctx, _, w := pipelinetest.Setup(t, 1)
	pipelinetest.Produce(t, ctx, w, w.Topics.Embeddings(), "d", embeddings)
	db := &memStore{rows: map[string][]float32{}, fails: 1}
	if err := pipeline.Run(ctx, w, Stage(w.Topics, db, conv)); err == nil || !strings.Contains(err.Error(), "server down") {
		t.Fatalf("err = %v, want the write's", err)
	}
	again := Stage(w.Topics, db, conv)
	if err := pipeline.Run(ctx, w, again); err != nil {
		t.Fatal(err)
	}
	if len(db.rows) != 2 || again.Counts.Snapshot().In != 4 {
		t.Errorf("after the restart: %d rows stored, %d records read; want 2 and all 4", len(db.rows), again.Counts.Snapshot().In)
	}
}
