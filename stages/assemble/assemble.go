// Package assemble is the hybrid batch assemble stage. Training sources (MLQA-R QA groups, bitext) are
// published as parallel groups, each source on its own single-partition topic; the stage reads them back as
// streams — one pass per epoch, never holding a source — and emits training batches for a strategy (mono,
// cross, hybrid(alpha)) to the batches topic, one batch per message, in order.
package assemble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"

	"xling/batching"
	"xling/pipeline"
	"xling/schemas"
)

// Publish writes a source's groups to its topic, closed by a stream-end marker that counts them.
func Publish(ctx context.Context, st *pipeline.Stage, src batching.Source) (int64, error) {
	topic := st.Topics.TrainSource(src.Name)
	if err := st.Broker.CreateTopic(ctx, 1, st.Topics.Replication, topic); err != nil {
		return 0, err
	}
	const batch = 256
	var rows []schemas.GroupRow
	var n int64
	flush := func() error {
		if err := pipeline.Send(ctx, st, topic, src.Name, schemas.Groups, rows); err != nil {
			return err
		}
		st.Counts.Out.Add(int64(len(rows)))
		rows = rows[:0]
		return nil
	}
	for g, err := range src.Groups {
		if err != nil {
			return n, fmt.Errorf("publish %s: %w", src.Name, err)
		}
		st.Counts.In.Add(1)
		row := schemas.GroupRow{ID: g.ID, Source: g.Source}
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
	return n, st.SendMarkers(ctx, topic, src.Name, schemas.Marker{Kind: schemas.StreamEnd, Dataset: src.Name, Count: n})
}

// Source reads a published source back. Each range over its Groups reads the topic from the first offset
// to the stream-end marker, so the sampler's epochs replay the topic rather than a copy in memory.
func Source(ctx context.Context, st *pipeline.Stage, name string) batching.Source {
	topic := st.Topics.TrainSource(name)
	return batching.Source{Name: name, Groups: func(yield func(batching.Group, error) bool) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: st.Broker.Addrs, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 64 << 20, MaxWait: 20 * time.Millisecond})
		defer r.Close()
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			yield(batching.Group{}, fmt.Errorf("read %s: %w", topic, err))
			return
		}
		var seen int64
		for {
			km, err := r.ReadMessage(ctx)
			if err != nil {
				yield(batching.Group{}, fmt.Errorf("read %s: %w", topic, err))
				return
			}
			m, err := pipeline.Parse(km)
			if err != nil {
				yield(batching.Group{}, fmt.Errorf("read %s: %w", m.Source(), err))
				return
			}
			if m.Markers != nil {
				for _, mk := range m.Markers {
					if mk.Kind == schemas.StreamEnd {
						if mk.Count != seen {
							yield(batching.Group{}, fmt.Errorf("read %s: %d groups before the stream-end marker, which counts %d", topic, seen, mk.Count))
						}
						return
					}
				}
				continue
			}
			rows, err := schemas.Groups.Decode(km.Value)
			if err != nil {
				yield(batching.Group{}, fmt.Errorf("read %s: %w", m.Source(), err))
				return
			}
			for _, row := range rows {
				seen++
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

// Run assembles batches from the named sources and produces them, then ends the batches topic's run.
func Run(ctx context.Context, st *pipeline.Stage, cfg batching.Config, sources []string) (batching.Stats, error) {
	topic := st.Topics.Batches()
	if err := st.Broker.CreateTopic(ctx, 1, st.Topics.Replication, topic); err != nil {
		return batching.Stats{}, err
	}
	srcs := make([]batching.Source, len(sources))
	for i, name := range sources {
		srcs[i] = Source(ctx, st, name)
	}
	key := cfg.Strategy.String()
	stats, err := batching.Sample(ctx, cfg, srcs, func(b batching.Batch) error {
		rows := make([]schemas.PairRow, len(b.Pairs))
		for i, p := range b.Pairs {
			rows[i] = schemas.PairRow{BatchID: int64(b.ID), Position: int64(i), Kind: string(b.Kind), Source: p.Source, Group: p.Group,
				QLang: p.QLang, PLang: p.PLang, Query: p.Query, Passage: p.Passage}
		}
		st.Counts.In.Add(int64(len(rows)))
		if err := pipeline.Send(ctx, st, topic, key, schemas.Pairs, rows); err != nil {
			return err
		}
		st.Counts.Out.Add(int64(len(rows)))
		return nil
	})
	if err != nil {
		return stats, fmt.Errorf("assemble: %w", err)
	}
	return stats, st.EndRun(ctx, topic)
}

// Batches consumes the batches topic for a trainer: next returns batches in order, and io.EOF once the
// run has ended. Call wait after the trainer stops to learn whether the consumer failed.
func Batches(ctx context.Context, st *pipeline.Stage) (next func(context.Context) (batching.Batch, error), wait func() error) {
	ch := make(chan batching.Batch, 4)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(ch)
		errc <- st.Consume(ctx, st.Topics.Batches(), true, func(ctx context.Context, m pipeline.Message) error {
			if m.Markers != nil {
				return nil
			}
			rows, ok, err := pipeline.Decode(ctx, st, m, schemas.Pairs)
			if !ok || len(rows) == 0 {
				return err
			}
			b := batching.Batch{ID: uint64(rows[0].BatchID), Kind: batching.Kind(rows[0].Kind), Pairs: make([]batching.Pair, len(rows))}
			for i, r := range rows {
				b.Pairs[i] = batching.Pair{Source: r.Source, Group: r.Group, QLang: r.QLang, PLang: r.PLang, Query: r.Query, Passage: r.Passage}
			}
			select {
			case ch <- b:
				st.Counts.Out.Add(int64(len(rows)))
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	next = func(ctx context.Context) (batching.Batch, error) {
		select {
		case b, ok := <-ch:
			if !ok {
				return batching.Batch{}, io.EOF
			}
			return b, nil
		case <-ctx.Done():
			return batching.Batch{}, ctx.Err()
		}
	}
	wait = func() error {
		cancel()
		for range ch { // let the consumer finish
		}
		err := <-errc
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	return next, wait
}
