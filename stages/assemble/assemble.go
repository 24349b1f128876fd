// Package assemble is the hybrid batch assemble stage. Training sources (MLQA-R QA groups, bitext) are
// published as parallel groups, each source on its own single-partition topic; the stage reads them back as
// streams — one pass per epoch, never holding a source — and emits training batches for a strategy (mono,
// cross, hybrid(alpha)) to the batches topic, one batch per message, in order.
package assemble

import (
	"context"
	"fmt"

	"xling/batching"
	"xling/pipeline"
	"xling/schemas"
)

// Publish writes a source's groups to its topic as the source stage src, closed by a stream-end marker
// that counts them.
func Publish(ctx context.Context, src *pipeline.Source, topics pipeline.Topics, s batching.Source) (int64, error) {
	topic := topics.TrainSource(s.Name)
	const batch = 256
	var rows []schemas.GroupRow
	var n int64
	flush := func() error {
		out := src.Output("")
		if err := pipeline.Emit(out, topic, s.Name, rows...); err != nil {
			return err
		}
		m := int64(len(rows))
		rows = rows[:0]
		return src.Send(ctx, m, out)
	}
	for g, err := range s.Groups {
		if err != nil {
			return n, fmt.Errorf("publish %s: %w", s.Name, err)
		}
		row := schemas.GroupRow{ID: g.ID, Source: s.Name}
		for _, t := range g.Texts {
			row.Langs = append(row.Langs, t.Lang)
			row.Queries = append(row.Queries, t.Query)
			row.Passages = append(row.Passages, t.Passage)
		}
		rows = append(rows, row)
		n++
		if len(rows) == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	out := src.Output("")
	out.EndStream(topic.Name, s.Name, schemas.Marker{Kind: schemas.StreamEnd, Dataset: s.Name})
	return n, src.Send(ctx, 0, out)
}

// Source reads a published source back. Each range over its Groups reads the topic from the first offset
// to this run's stream-end marker, so the sampler's epochs replay the topic rather than a copy in memory;
// other runs' messages on the topic are skipped.
func Source(ctx context.Context, w pipeline.Worker, name string) batching.Source {
	topic := w.Topics.TrainSource(name)
	return batching.Source{Name: name, Groups: func(yield func(batching.Group, error) bool) {
		r, err := w.Transport.Read(ctx, topic.Name, 0)
		if err != nil {
			yield(batching.Group{}, err)
			return
		}
		defer r.Close()
		seen := map[string]bool{}
		for {
			m, err := r.Next(ctx)
			if err != nil {
				yield(batching.Group{}, err)
				return
			}
			if run, _ := m.Header(pipeline.HeaderRun); run != w.RunID {
				continue
			}
			switch schema, _ := m.Header(schemas.HeaderSchema); schema {
			case schemas.Markers.ID:
				ms, err := schemas.Markers.Decode(m.Value, schemas.WithAllocator(w.Allocator))
				if err != nil {
					yield(batching.Group{}, fmt.Errorf("read %s: %w", m.Source(), err))
					return
				}
				for _, mk := range ms {
					if mk.Kind == schemas.StreamEnd {
						if mk.Count != int64(len(seen)) {
							yield(batching.Group{}, fmt.Errorf("read %s: %d groups before the stream-end marker, which counts %d", topic.Name, len(seen), mk.Count))
						}
						return
					}
				}
				continue
			case topic.Schema.ID:
			default:
				yield(batching.Group{}, fmt.Errorf("read %s: %w: %q, want %q", m.Source(), schemas.ErrSchema, schema, topic.Schema.ID))
				return
			}
			rows, err := topic.Schema.Decode(m.Value, schemas.WithAllocator(w.Allocator))
			if err != nil {
				yield(batching.Group{}, fmt.Errorf("read %s: %w", m.Source(), err))
				return
			}
			for _, row := range rows {
				if seen[row.ID] { // a publisher that restarted sent it again
					continue
				}
				seen[row.ID] = true
				if len(row.Langs) != len(row.Queries) || len(row.Langs) != len(row.Passages) {
					yield(batching.Group{}, fmt.Errorf("read %s: group %s has %d languages, %d queries and %d passages", m.Source(), row.ID, len(row.Langs), len(row.Queries), len(row.Passages)))
					return
				}
				g := batching.Group{ID: row.ID, Source: row.Source, Texts: make([]batching.Text, len(row.Langs))}
				for i := range row.Langs {
					g.Texts[i] = batching.Text{Lang: row.Langs[i], Query: row.Queries[i], Passage: row.Passages[i]}
				}
				if !yield(g, nil) {
					return
				}
			}
		}
	}}
}

// Run assembles batches from the named sources and produces them as the source stage src, then ends the
// batches topic's run.
func Run(ctx context.Context, src *pipeline.Source, w pipeline.Worker, cfg batching.Config, sources []string) (batching.Stats, error) {
	topic := w.Topics.Batches()
	srcs := make([]batching.Source, len(sources))
	for i, name := range sources {
		srcs[i] = Source(ctx, w, name)
	}
	key := cfg.Strategy.String()
	stats, err := batching.Sample(ctx, cfg, srcs, func(b batching.Batch) error {
		rows := make([]schemas.PairRow, len(b.Pairs))
		for i, p := range b.Pairs {
			rows[i] = schemas.PairRow{BatchID: int64(b.ID), Position: int64(i), Kind: string(b.Kind), Source: p.Source, Group: p.Group,
				QLang: p.QLang, PLang: p.PLang, Query: p.Query, Passage: p.Passage}
		}
		out := src.Output("")
		if err := pipeline.Emit(out, topic, key, rows...); err != nil {
			return err
		}
		return src.Send(ctx, int64(len(rows)), out)
	})
	if err != nil {
		return stats, fmt.Errorf("assemble: %w", err)
	}
	return stats, src.EndRun(ctx, topic.Name)
}
