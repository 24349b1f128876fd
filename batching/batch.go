// Package batching assembles training batches for the dual encoder: X-X-mono (one language per batch),
// X-Y (query and passage languages differ) and hybrid(alpha) (mono with probability alpha), streaming over
// parallel groups with bounded memory, never putting two items of one parallel group in a batch.
package batching

import (
	"context"
	"io"
)

// Pair is one (query, positive passage) training example.
type Pair struct {
	Source  string // dataset it came from: "mlqa-r", "tatoeba", "ntrex", "flores200", "stsb"
	Group   string // parallel group (question id, or line number of an aligned corpus): unique per batch
	QLang   string // ISO 639-1
	PLang   string // ISO 639-1
	Query   string
	Passage string
}

// Kind says how a batch was drawn.
type Kind string

const (
	Mono  Kind = "mono"  // X-X-mono: every pair has QLang == PLang == the batch's language
	Cross Kind = "cross" // X-Y: every pair has QLang != PLang
)

// Batch is one training step's worth of pairs.
type Batch struct {
	ID    uint64 // sequence number within a run, from 0
	Kind  Kind
	Pairs []Pair
}

// FromChannel returns a next-batch function over ch, as a trainer pulls batches: io.EOF once ch is
// closed, ctx's error if it ends first.
func FromChannel(ch <-chan Batch) func(ctx context.Context) (Batch, error) {
	return func(ctx context.Context) (Batch, error) {
		select {
		case b, ok := <-ch:
			if !ok {
				return Batch{}, io.EOF
			}
			return b, nil
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}
