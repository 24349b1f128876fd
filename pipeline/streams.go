package pipeline

import (
	"context"

	"xling/schemas"
)

// Streams counts the records a stage has produced per (dataset, lang, kind) stream, so the stream-end
// markers it forwards carry its own counts: a reader downstream can check that it saw them all.
type Streams map[[3]string]int64

// Add counts n records produced on a stream.
func (s Streams) Add(dataset, lang, kind string, n int64) { s[[3]string{dataset, lang, kind}] += n }

// Forward re-sends stream-end markers on topic with this stage's counts; RunEnd markers are not forwarded
// (each stage ends its own output with EndRun once its input has ended).
func (s Streams) Forward(ctx context.Context, st *Stage, topic, key string, in []schemas.Marker) error {
	out := s.Ends(in)
	if len(out) == 0 {
		return nil
	}
	return st.SendMarkers(ctx, topic, key, out...)
}

// Ends returns the stream-end markers of in, each carrying this stage's count of its stream: what Forward
// sends, taken now, for a stage that sends later (see Stage.ConsumeOverlapped).
func (s Streams) Ends(in []schemas.Marker) []schemas.Marker {
	var out []schemas.Marker
	for _, m := range in {
		if m.Kind != schemas.StreamEnd {
			continue
		}
		m.Count = s[[3]string{m.Dataset, m.Lang, m.ItemKind}]
		out = append(out, m)
	}
	return out
}
