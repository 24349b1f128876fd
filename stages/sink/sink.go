// Package sink is the stage that lands a topic in a Parquet table (embeddings, rankings, metrics, training
// batches). The table is committed, atomically, once the input has ended; rows that break the table's schema
// are dead-lettered rather than aborting the table, and a row that a replay delivers again is kept once.
package sink

import (
	"context"
	"hash/maphash"
	"os"

	"xling/pipeline"
	"xling/sinks"
)

// Table is a sink stage and, once it has finished, the file it committed.
type Table[In any, Out sinks.Row] struct {
	Stage *pipeline.Stage[In]
	File  sinks.OutputFile
}

// Rows appends the table rows of one record to out (a ranking list is a row per rank), or says why the
// record has none.
type Rows[In any, Out sinks.Row] func(r In, out []Out) ([]Out, error)

// One is the Rows of a record that is one table row.
func One[In any, Out sinks.Row](conv func(In) Out) Rows[In, Out] {
	return func(r In, out []Out) ([]Out, error) { return append(out, conv(r)), nil }
}

// New returns a stage that consumes input into w, converting each record with rows; observe, if not nil,
// sees every record written (the run's summary reads metrics this way). The caller owns w and aborts it
// if the stage fails (Abort is a no-op once committed).
func New[In any, Out sinks.Row](name string, input pipeline.Topic[In], w *sinks.Writer[Out], rows Rows[In, Out], observe func(In)) *Table[In, Out] {
	t := &Table[In, Out]{}
	// Rows seen, by group (a 128-bit hash of two seeded maphashes: a collision is odds of about 2^-87 a
	// run), one bit per row of the group (sinks.Dedup).
	seen := map[[2]uint64]uint64{}
	var hs [2]maphash.Hash
	hs[1].SetSeed(maphash.MakeSeed())
	committed, read := false, false
	var buf []Out
	t.Stage = &pipeline.Stage[In]{
		Name: name, Input: input, Whole: true,
		Process: func(_ context.Context, _ string, records []In, o *pipeline.Output) error {
			read = true
			out := buf[:0]
			defer func() { buf = out[:0] }() // the writer has copied the rows: the next batch reuses the slice
			for i, r := range records {
				n := len(out)
				var err error
				if out, err = rows(r, out); err == nil {
					for _, row := range out[n:] {
						if err = sinks.Validate(row); err != nil {
							break
						}
					}
				}
				if err != nil {
					o.Reject(i, r, err)
					out = out[:n]
					continue
				}
				kept := out[:n]
				for _, row := range out[n:] {
					hs[0].Reset()
					hs[1].Reset()
					sinks.Dedup(row, &hs[0])
					bit := uint64(1) << sinks.Dedup(row, &hs[1])
					k := [2]uint64{hs[0].Sum64(), hs[1].Sum64()}
					if seen[k]&bit == 0 {
						seen[k] |= bit
						kept = append(kept, row)
					}
				}
				if len(kept) > n && observe != nil {
					observe(r)
				}
				out = kept
			}
			if err := w.Write(out...); err != nil {
				return err
			}
			o.Land(len(out))
			return nil
		},
		Finish: func(context.Context, *pipeline.Output) error {
			if _, err := os.Stat(w.Path()); err == nil && !read {
				// Restarted after this run's table was committed (and its offsets with it): there is nothing
				// left to read, and the table stays as it is.
				committed = true
				return w.Abort()
			}
			f, err := w.Close()
			t.File, committed = f, err == nil
			return err
		},
		// The table exists only once committed: until then a restart must read the topic from the start.
		Settled: func() bool { return committed },
	}
	return t
}
