// Package encode is the stage that runs the model: it embeds tokenized records with an ONNX Runtime
// session and produces their vectors, keyed by dataset for the scorer.
package encode

import (
	"context"
	"fmt"
	"sort"

	"xling/encoder/ort"
	"xling/pipeline"
	"xling/schemas"
)

// Config tunes batching.
type Config struct {
	Model       string // model name recorded with every vector
	TokenBudget int    // padded tokens per ONNX Runtime call (rows x longest row); 0 means 16384
	MaxRows     int    // rows per call; 0 means 256
}

func (c Config) withDefaults() Config {
	if c.TokenBudget <= 0 {
		c.TokenBudget = 16384
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 256
	}
	return c
}

// Plan groups rows into calls by token budget: rows sorted by length, so each call pads little, and each
// call holds at most budget padded tokens (a row longer than the budget gets a call to itself) and maxRows
// rows. It returns the row indexes of each call.
func Plan(lengths []int, budget, maxRows int) [][]int {
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lengths[order[a]] > lengths[order[b]] })
	var calls [][]int
	for start := 0; start < len(order); {
		longest := max(lengths[order[start]], 1)
		end := start + 1
		for end < len(order) && end-start < maxRows && (end-start+1)*longest <= budget {
			end++
		}
		calls = append(calls, order[start:end])
		start = end
	}
	return calls
}

// Embed fills the Vector of every row, calling the session once per planned call.
func Embed(ctx context.Context, sess *ort.Session, cfg Config, rows []schemas.Record) error {
	cfg = cfg.withDefaults()
	lengths := make([]int, len(rows))
	for i, r := range rows {
		lengths[i] = len(r.TokenIDs)
	}
	dim := sess.Dim()
	for _, call := range Plan(lengths, cfg.TokenBudget, cfg.MaxRows) {
		var b ort.Batch
		for _, i := range call {
			b.IDs = append(b.IDs, rows[i].TokenIDs)
			if rows[i].TypeIDs != nil {
				b.TypeIDs = append(b.TypeIDs, rows[i].TypeIDs)
			}
		}
		if b.TypeIDs != nil && len(b.TypeIDs) != len(b.IDs) {
			return fmt.Errorf("encode: rows %v mix records with and without token type ids", call)
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

// Run consumes the tokens topic and produces the embeddings topic. Embedding a message overlaps with
// producing the one before it (pipeline.Stage.ConsumeOverlapped).
func Run(ctx context.Context, st *pipeline.Stage, sess *ort.Session, cfg Config, untilRunEnd bool) error {
	streams := pipeline.Streams{}
	out := st.Topics.Embeddings()
	err := st.ConsumeOverlapped(ctx, st.Topics.Tokens(), untilRunEnd, func(ctx context.Context, m pipeline.Message) (func(context.Context) error, error) {
		if m.Markers != nil {
			ends := streams.Ends(m.Markers)
			if len(ends) == 0 {
				return nil, nil
			}
			return func(ctx context.Context) error { return st.SendMarkers(ctx, out, ends[0].Dataset, ends...) }, nil
		}
		rows, ok, err := pipeline.Decode(ctx, st, m, schemas.Tokens)
		if !ok || len(rows) == 0 {
			return nil, err
		}
		if err := Embed(ctx, sess, cfg, rows); err != nil {
			return nil, err
		}
		// Keyed by dataset: one scorer member sees every language of a dataset.
		byDataset := map[string][]schemas.Record{}
		for _, r := range rows {
			byDataset[r.Dataset] = append(byDataset[r.Dataset], r)
			streams.Add(r.Dataset, r.Lang, r.Kind, 1)
		}
		return func(ctx context.Context) error {
			for ds, rs := range byDataset {
				if err := pipeline.Send(ctx, st, out, ds, schemas.Embedding, rs); err != nil {
					return err
				}
			}
			st.Counts.Out.Add(int64(len(rows)))
			return nil
		}, nil
	})
	if err != nil {
		return err
	}
	return st.EndRun(ctx, out)
}
