// Package sink is the stage that lands a topic in a Parquet table (embeddings, rankings, metrics). The
// table is committed, atomically, when the run ends; rows that break the table's schema are dead-lettered
// rather than aborting the table.
package sink

import (
	"context"

	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
)

// Run consumes topic into w until the run ends, then commits the table. observe, if not nil, sees every
// row written (the run's summary reads metrics this way).
func Run[In any, Out sinks.Row](ctx context.Context, st *pipeline.Stage, topic string, schema *schemas.Schema[In],
	w *sinks.Writer[Out], conv func(In) Out, observe func(In)) (sinks.OutputFile, error) {
	defer w.Abort() // a no-op once committed
	err := st.Consume(ctx, topic, true, func(ctx context.Context, m pipeline.Message) error {
		if m.Markers != nil {
			return nil
		}
		rows, ok, err := pipeline.Decode(ctx, st, m, schema)
		if !ok {
			return err
		}
		out := make([]Out, 0, len(rows))
		for i, r := range rows {
			o := conv(r)
			if err := sinks.Validate(o); err != nil {
				if err := st.DeadLetter(ctx, m, i, r, err); err != nil {
					return err
				}
				continue
			}
			out = append(out, o)
			if observe != nil {
				observe(r)
			}
		}
		if err := w.Write(out...); err != nil {
			return err
		}
		st.Counts.Out.Add(int64(len(out)))
		return nil
	})
	if err != nil {
		return sinks.OutputFile{}, err
	}
	return w.Close()
}
