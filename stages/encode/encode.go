// Package encode is the stage that runs the model: it embeds tokenized records with an ONNX Runtime
// session and produces their vectors, keyed by dataset for the scorer.
package encode

import (
	"context"
	"errors"
	"fmt"

	"xling/encoder/ort"
	"xling/pipeline"
	"xling/schemas"
)

// Config tunes batching.
//
// Zero fields take the defaults noted on them inside Embed (which the stage calls for every message), after
// Embed has called Validate; Validate changes nothing.
type Config struct {
	Model       string // model name recorded with every vector
	TokenBudget int    // padded tokens per ONNX Runtime call (rows x longest row); 0 means ort.DefaultTokenBudget
	MaxRows     int    // rows per call; 0 means ort.DefaultMaxRows
	// Vocab is the number of token ids the model embeds (ids lie in [0, Vocab)), from its tokenizer
	// (tokenizer.VocabSize); 0 leaves ids unchecked. ONNX Runtime fails a whole call on an id outside the
	// embedding table, so the stage checks each record first and dead-letters the ones that would.
	Vocab int
	// MaxTokens is the longest row the model takes (a model directory's max_length), past which a
	// transformer's position table fails the call as an unknown id does; 0 leaves lengths unchecked.
	MaxTokens int
}

// ErrTokens marks a record whose tokens the model cannot take; the stage dead-letters it.
var ErrTokens = errors.New("tokens the model cannot embed")

// Check returns why the model cannot embed r, or nil: more ids than the model takes, a token id outside
// the vocabulary (or negative), or token type ids that do not match the token ids one for one.
func (c Config) Check(r schemas.Record) error {
	name := func() string { return fmt.Sprintf("record dataset %q lang %q id %q", r.Dataset, r.Lang, r.ID) }
	if c.MaxTokens > 0 && len(r.TokenIDs) > c.MaxTokens {
		return fmt.Errorf("%w: %s: field token_ids: %d ids, over the model's maximum of %d", ErrTokens, name(), len(r.TokenIDs), c.MaxTokens)
	}
	for i, id := range r.TokenIDs {
		switch {
		case id < 0:
			return fmt.Errorf("%w: %s: field token_ids[%d]: negative id %d", ErrTokens, name(), i, id)
		case c.Vocab > 0 && id >= int64(c.Vocab):
			return fmt.Errorf("%w: %s: field token_ids[%d]: id %d outside the model's vocabulary [0, %d)", ErrTokens, name(), i, id, c.Vocab)
		}
	}
	if r.TypeIDs != nil && len(r.TypeIDs) != len(r.TokenIDs) {
		return fmt.Errorf("%w: %s: field type_ids: %d type ids for %d token ids", ErrTokens, name(), len(r.TypeIDs), len(r.TokenIDs))
	}
	for i, id := range r.TypeIDs {
		if id < 0 {
			return fmt.Errorf("%w: %s: field type_ids[%d]: negative id %d", ErrTokens, name(), i, id)
		}
	}
	return nil
}

// Validate reports, naming it, the first field of c that Embed cannot use.
func (c Config) Validate() error {
	switch {
	case c.TokenBudget < 0:
		return fmt.Errorf("encode config: TokenBudget is %d, want >= 0 (0 means %d)", c.TokenBudget, ort.DefaultTokenBudget)
	case c.MaxRows < 0:
		return fmt.Errorf("encode config: MaxRows is %d, want >= 0 (0 means %d)", c.MaxRows, ort.DefaultMaxRows)
	}
	return nil
}

// withDefaults fills c's zero fields with their defaults: Embed's, after Validate.
func (c Config) withDefaults() Config {
	if c.TokenBudget == 0 {
		c.TokenBudget = ort.DefaultTokenBudget
	}
	if c.MaxRows == 0 {
		c.MaxRows = ort.DefaultMaxRows
	}
	return c
}

// Embedder is what the stage needs of a model: an ONNX Runtime session (ort.Session), or a stand-in in
// tests.
type Embedder interface {
	// Embed returns one vector of Dim floats per row of b, row after row.
	Embed(ctx context.Context, b ort.Batch) ([]float32, error)
	Dim() int
}

// Embed fills the Vector of every row, calling the session once per planned call.
func Embed(ctx context.Context, sess Embedder, cfg Config, rows []schemas.Record) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	lengths := make([]int, len(rows))
	for i, r := range rows {
		lengths[i] = len(r.TokenIDs)
	}
	dim := sess.Dim()
	for _, call := range ort.Plan(lengths, cfg.TokenBudget, cfg.MaxRows) {
		var b ort.Batch
		typed := false
		for _, i := range call {
			b.IDs = append(b.IDs, rows[i].TokenIDs)
			typed = typed || rows[i].TypeIDs != nil
		}
		if typed {
			// A row without type ids gets zeros, as it would in a call of its own (ort.Batch.TypeIDs).
			b.TypeIDs = make([][]int64, len(call))
			for j, i := range call {
				if b.TypeIDs[j] = rows[i].TypeIDs; b.TypeIDs[j] == nil {
					b.TypeIDs[j] = make([]int64, len(rows[i].TokenIDs))
				}
			}
		}
		emb, err := sess.Embed(ctx, b)
		if err != nil {
			return fmt.Errorf("encode %s..: %w", rows[call[0]].ID, err)
		}
		for j, i := range call {
			rows[i].Vector = emb[j*dim : (j+1)*dim : (j+1)*dim]
			rows[i].Model = cfg.Model
		}
	}
	return nil
}

// Stage returns the encode stage: tokens in, embeddings out, keyed by dataset so that one score member
// sees every language of a dataset.
func Stage(topics pipeline.Topics, sess Embedder, cfg Config) *pipeline.Stage[schemas.Record] {
	out := topics.Embeddings()
	return &pipeline.Stage[schemas.Record]{
		Name: "encode", Input: topics.Tokens(), Outputs: []string{out.Name},
		Process: func(ctx context.Context, _ string, rows []schemas.Record, o *pipeline.Output) error {
			// A record the model would fail on is dead-lettered here: left in, it would fail the call on
			// every restart at the same offset, and the worker would never get past it.
			kept := rows[:0]
			for i, r := range rows {
				if err := cfg.Check(r); err != nil {
					o.Reject(i, r, err)
					continue
				}
				kept = append(kept, r)
			}
			rows = kept
			if err := Embed(ctx, sess, cfg, rows); err != nil {
				return err
			}
			// A message holds one language of one dataset (it is keyed by both), so one key serves it all.
			for start := 0; start < len(rows); {
				end := start + 1
				for end < len(rows) && rows[end].Dataset == rows[start].Dataset {
					end++
				}
				if err := pipeline.Emit(o, out, rows[start].Dataset, rows[start:end]...); err != nil {
					return err
				}
				start = end
			}
			return nil
		},
		End: func(_ context.Context, _ string, m schemas.Marker, o *pipeline.Output) error {
			o.EndStream(out.Name, m.Dataset, m)
			return nil
		},
	}
}
