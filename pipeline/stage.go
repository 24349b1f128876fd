package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"xling/schemas"
)

// Headers set on every message xling writes.
const (
	HeaderRun    = "xling-run"    // run id
	HeaderReason = "xling-reason" // dead letters: why
	HeaderStage  = "xling-stage"  // dead letters: which stage rejected it
	HeaderSource = "xling-source" // dead letters: topic/partition/offset it came from
	HeaderRecord = "xling-record" // dead letters: index of the record in its message, -1 for the whole message
)

// Counts are a stage's books, in records, with one meaning in every stage: In were read, Dead rejected
// (dead-lettered with a reason), Out accepted, so In = Out + Dead; Emitted were handed on, to topics or
// to a sink's table, and equal the next stage's In. DeadMessages counts messages rejected whole (they
// could not be decoded, so their records are unknown). Truncated counts records cut to a model's maximum
// length: kept, but never silently.
type Counts struct {
	In, Out, Dead, DeadMessages, Emitted, Truncated atomic.Int64
}

// Snapshot is a plain copy of Counts.
type Snapshot struct{ In, Out, Dead, DeadMessages, Emitted, Truncated int64 }

// Add returns the sum of two snapshots: the books of a stage over several runs.
func (s Snapshot) Add(o Snapshot) Snapshot {
	return Snapshot{s.In + o.In, s.Out + o.Out, s.Dead + o.Dead, s.DeadMessages + o.DeadMessages, s.Emitted + o.Emitted, s.Truncated + o.Truncated}
}

// Snapshot reads the counters.
func (c *Counts) Snapshot() Snapshot {
	return Snapshot{c.In.Load(), c.Out.Load(), c.Dead.Load(), c.DeadMessages.Load(), c.Emitted.Load(), c.Truncated.Load()}
}

// Worker is what every stage of one run shares: the transport, the topic names and the run id.
type Worker struct {
	Transport Transport
	Topics    Topics
	RunID     string
	Log       *slog.Logger // nil discards
	// Allocator is where the stages' Arrow buffers come from when they encode and decode messages; nil
	// means memory.DefaultAllocator. The rows a stage sees are Go memory: every buffer is given back
	// before Process is called, so a memory.CheckedAllocator here shows a stage that keeps one.
	Allocator memory.Allocator
	// Observe, if set, is told how long each message of this run took to handle (decode, then Process or
	// End); the stages of a job call it concurrently.
	Observe func(stage string, d time.Duration)
}

// codec is the option that makes the schemas' Encode and Decode use w's allocator.
func (w Worker) codec() schemas.Option { return schemas.WithAllocator(w.Allocator) }

func (w Worker) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

// Stage is one processing step: a handler of the record batches of one input topic. Run does the rest —
// joins the stage's consumer group, decodes, counts, dead-letters rejects, produces what the stage emits,
// commits offsets only once that output is durable, and passes the run's end on to the outputs.
type Stage[In any] struct {
	Name  string
	Input Topic[In]
	// Outputs are the topics the stage writes; each is told when the stage's input has ended.
	Outputs []string
	// Process handles the records of one message (key is the message's key): it emits with Emit and
	// rejects records with Output.Reject. An error stops the stage.
	Process func(ctx context.Context, key string, rows []In, out *Output) error
	// End handles a stream-end marker of the input; nil ignores them.
	End func(ctx context.Context, key string, m schemas.Marker, out *Output) error
	// Finish runs once every partition this member holds has ended, before the end is passed on.
	Finish func(ctx context.Context, out *Output) error
	// Settled reports whether the stage holds no state beyond what it has emitted (the scorer between
	// datasets, a sink once its table is committed). For such a stage offsets are committed only while it is
	// settled, so a restart rebuilds its state by reading its input again. Nil: a stateless stage, whose
	// offsets are committed wherever no stream of the partition is half read.
	Settled func() bool
	// Whole says the stage's output needs every partition of its input (a sink writing one table): it
	// finishes only while it holds them all. A stage without it finishes once the partitions it holds have
	// ended, which is right when its output follows from each partition alone.
	Whole bool
	// Reset, if set, drops state not covered by committed offsets. It is called when the group's
	// partitions are dealt anew: this member then reads every partition it holds again from its committed
	// offset, and the partitions it lost are read by their new owner.
	Reset func()
	// Replica, when Of > 1, says the stage is one of Of stages that each read all of the same input (in
	// consumer groups of their own) and write the same outputs (the score shards): its run ends are
	// numbered apart from the others', so a reader of the outputs ends only once every replica has.
	Replica Replica
	Counts  Counts
}

// Replica is a stage's place among the stages that read one input side by side: Index of Of.
type Replica struct{ Index, Of int }

// Output collects what a stage produced for one input message (or, in a source, for one call of Send).
type Output struct {
	e       *emitter
	from    *Message
	msgs    []Message
	bytes   int // encoded bytes of what Emit added to msgs since the last flush
	emitted int64
	dead    int64
	trunc   int64
	err     error
}

// emitter is what a stage's outputs share: who writes, and how many distinct records each output stream
// has had, so a stream-end marker carries an exact count however often a replay delivered its records.
type emitter struct {
	stage   string
	worker  Worker
	streams map[streamKey]map[string]struct{}
	// flush, when set, hands messages to the producer before the output is sent, so that one large
	// output (the scorer's pool) is never held whole: Emit calls it past flushBytes.
	flush func(msgs []Message) error
}

// flushBytes is how many encoded bytes an output holds before Emit hands them to the producer.
const flushBytes = 16 << 20

type streamKey struct {
	topic string
	schemas.Stream
}

// streamed is a record that belongs to a stream (schemas.Record).
type streamed interface {
	Stream() schemas.Stream
	RecordID() string
}

func newEmitter(stage string, w Worker) *emitter {
	return &emitter{stage: stage, worker: w, streams: map[streamKey]map[string]struct{}{}}
}

func (e *emitter) output(from *Message) *Output { return &Output{e: e, from: from} }

func (e *emitter) headers(schema string) []Header {
	return []Header{{Key: schemas.HeaderSchema, Value: []byte(schema)}, {Key: HeaderRun, Value: []byte(e.worker.RunID)}}
}

// MaxMessageBytes keeps every message under Kafka's default broker limit (message.max.bytes, 1 MiB).
const MaxMessageBytes = 1000 << 10

// Emit adds rows to out as Arrow batch messages on topic under key, each message under MaxMessageBytes.
func Emit[T any](out *Output, topic Topic[T], key string, rows ...T) error {
	if len(rows) == 0 || out.err != nil {
		return out.err
	}
	msgs, err := encodeMessages(out.e, topic, key, rows)
	if err != nil {
		out.err = err
		return err
	}
	out.msgs = append(out.msgs, msgs...)
	out.emitted += int64(len(rows))
	for _, m := range msgs {
		out.bytes += len(m.Value)
	}
	if f := out.e.flush; f != nil && out.bytes > flushBytes {
		if err := f(out.msgs); err != nil {
			out.err = err
			return err
		}
		out.msgs, out.bytes = nil, 0
	}
	for i := range rows {
		if r, ok := any(&rows[i]).(streamed); ok {
			k := streamKey{topic.Name, r.Stream()}
			ids := out.e.streams[k]
			if ids == nil {
				ids = map[string]struct{}{}
				out.e.streams[k] = ids
			}
			ids[r.RecordID()] = struct{}{}
		}
	}
	return nil
}

// encodeMessages encodes rows as Arrow batches of at most MaxMessageBytes each. Batch sizes adapt: each
// batch is sized from the bytes per row of the one before it to fill about 90% of the limit, and a batch that
// comes out too large is encoded again with fewer rows, so a row is usually encoded once.
func encodeMessages[T any](e *emitter, topic Topic[T], key string, rows []T) ([]Message, error) {
	const probe = 1024 // rows in the first batch, before any size is known
	var msgs []Message
	per := min(len(rows), probe)
	for start := 0; start < len(rows); {
		end := min(len(rows), start+per)
		value, err := topic.Schema.Encode(rows[start:end], e.worker.codec())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.stage, err)
		}
		fit := max(1, (end-start)*(MaxMessageBytes/10*9)/len(value))
		if len(value) > MaxMessageBytes {
			if end-start == 1 {
				return nil, fmt.Errorf("%s: one %s record is %d bytes, over the %d-byte message limit", e.stage, topic.Schema.ID, len(value), MaxMessageBytes)
			}
			per = min(fit, end-start-1)
			continue
		}
		msgs = append(msgs, Message{Topic: topic.Name, Partition: -1, Key: []byte(key), Value: value, Headers: e.headers(topic.Schema.ID)})
		start, per = end, fit
	}
	return msgs, nil
}

// EndStream closes a stream on topic: it sends m, a StreamEnd marker, on key with the number of distinct
// records this stage emitted on that stream.
func (o *Output) EndStream(topic, key string, m schemas.Marker) {
	k := streamKey{topic, m.Stream()}
	m.Count = int64(len(o.e.streams[k]))
	delete(o.e.streams, k)
	o.marker(topic, key, -1, m)
}

func (o *Output) marker(topic, key string, partition int, m schemas.Marker) {
	value, err := schemas.Markers.Encode([]schemas.Marker{m}, o.e.worker.codec())
	if err != nil {
		if o.err == nil {
			o.err = err
		}
		return
	}
	o.msgs = append(o.msgs, Message{Topic: topic, Partition: partition, Key: []byte(key), Value: value, Headers: o.e.headers(schemas.Markers.ID)})
}

// Reject dead-letters record i of the input message with the reason.
func (o *Output) Reject(i int, record any, reason error) {
	value, err := json.Marshal(record)
	if err != nil {
		// Not every record is JSON (NaN, say): keep it in Go syntax rather than lose it.
		value = fmt.Appendf(nil, "%+v", record)
	}
	o.dead++
	o.deadLetter(i, value, reason)
}

func (o *Output) deadLetter(record int, value []byte, reason error) {
	from := Message{}
	if o.from != nil {
		from = *o.from
	}
	schema, _ := from.Header(schemas.HeaderSchema)
	o.msgs = append(o.msgs, Message{Topic: o.e.worker.Topics.DeadLetter(), Partition: -1, Key: []byte(o.e.stage), Value: value, Headers: []Header{
		{Key: HeaderRun, Value: []byte(o.e.worker.RunID)},
		{Key: HeaderStage, Value: []byte(o.e.stage)},
		{Key: HeaderReason, Value: []byte(reason.Error())},
		{Key: HeaderSource, Value: []byte(from.Source())},
		{Key: HeaderRecord, Value: []byte(strconv.Itoa(record))},
		{Key: schemas.HeaderSchema, Value: []byte(schema)},
	}})
}

// Land counts n records handed on outside any topic (rows a sink wrote to its table).
func (o *Output) Land(n int) { o.emitted += int64(n) }

// Truncate counts n records cut to the model's maximum length.
func (o *Output) Truncate(n int) { o.trunc += int64(n) }

// partState is what a member knows of one input partition it holds.
type partState struct {
	ended map[int64]int64 // upstream partitions whose RunEnd arrived, and the offset it arrived at
	parts int64           // how many upstream partitions there are (from RunEnd markers)
	open  map[schemas.Stream]bool
	next  int64 // offset after the last message handled
	quiet int64 // offset after the last message that left no stream half read
	seen  bool
}

func newPartState() *partState {
	return &partState{ended: map[int64]int64{}, open: map[schemas.Stream]bool{}}
}

func (p *partState) done() bool { return p.parts > 0 && int64(len(p.ended)) >= p.parts }

// commitAt is where the partition's offset can be committed (after everything handled, or after the last
// quiet point) and, with it, the run ends that arrived before that offset: a member that takes the
// partition over starts there and must know which upstream partitions have already ended.
func (p *partState) commitAt(all bool, run string) Offset {
	off := p.quiet
	if all {
		off = p.next
	}
	var ended []string
	for part, at := range p.ended {
		if at < off {
			ended = append(ended, strconv.FormatInt(part, 10))
		}
	}
	slices.Sort(ended)
	return Offset{Next: off, Meta: fmt.Sprintf("run=%s parts=%d ended=%s", run, p.parts, strings.Join(ended, ","))}
}

// resume sets what a previous owner committed: the run ends before the committed offset. Another run's
// commit says nothing about this one.
func (p *partState) resume(meta, run string) {
	kv := map[string]string{}
	for _, f := range strings.Fields(meta) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	if kv["run"] != run {
		return
	}
	parts, err := strconv.ParseInt(kv["parts"], 10, 64)
	if err != nil || parts < 0 || parts > 1<<20 {
		return // not metadata xling wrote: nothing is known of the partition, so it is read again
	}
	p.parts = parts
	for _, e := range strings.Split(kv["ended"], ",") {
		if n, err := strconv.ParseInt(e, 10, 64); err == nil {
			p.ended[n] = -1 // before the committed offset
		}
	}
}

type pending struct {
	msgs       []Message
	commit     map[int]Offset
	generation int
}

// Run runs stage s as a member of its consumer group ("<prefix><name>") until every partition it holds
// has ended for this run. Messages of other runs are skipped. Output is produced in a second goroutine, in
// message order, while the next message is processed; an offset is committed only after the output of
// every message before it is acknowledged.
func Run[In any](ctx context.Context, w Worker, s *Stage[In]) error {
	c, err := w.Transport.Join(ctx, w.Topics.Prefix+s.Name, s.Input.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	defer c.Close()
	outParts := map[string]int{}
	for _, t := range s.Outputs {
		if outParts[t], err = w.Transport.Partitions(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	inParts, err := w.Transport.Partitions(ctx, s.Input.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	e := newEmitter(s.Name, w)

	queue := make(chan pending, 1) // one message waits while another is produced: bounded memory
	g, gctx := errgroup.WithContext(ctx)
	e.flush = func(msgs []Message) error {
		select {
		case queue <- pending{msgs: msgs}: // no commit: that waits for the whole output
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}
	g.Go(func() error {
		for p := range queue {
			if len(p.msgs) > 0 {
				if err := w.Transport.Produce(gctx, p.msgs...); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
			}
			if len(p.commit) > 0 {
				if err := c.Commit(gctx, p.generation, p.commit); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
			}
		}
		return nil
	})
	err = loop(gctx, w, s, c, e, queue, inParts, outParts)
	close(queue)
	if werr := g.Wait(); werr != nil {
		return werr // the producer's error is the cause; the loop only saw the cancellation
	}
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func loop[In any](ctx context.Context, w Worker, s *Stage[In], c Consumer, e *emitter, queue chan<- pending, inParts int, outParts map[string]int) error {
	parts := map[int]*partState{}
	generation := -1
	state := func(p int) *partState {
		ps := parts[p]
		if ps == nil {
			ps = newPartState()
			ps.resume(c.Resume(p), w.RunID)
			parts[p] = ps
		}
		return ps
	}
	// finished reports whether this member is done: every partition it holds has ended, and so has every
	// other partition of the topic, as the group's commits say. A member whose partitions are done stays
	// while others are not, so that if their holder dies, they pass to it rather than to nobody. A Whole
	// stage must also hold every partition itself.
	var checked time.Time
	finished := func() (bool, error) {
		held, gen := c.Assigned()
		if gen != generation {
			// A new assignment that has brought no message yet (every partition it gives this member may
			// be read to its end already): what this member built in its last generation is stale, and
			// the committed metadata is what says how far each partition got, as after a fetched message
			// of the new generation. Kept, the stale state of a half-read partition never ends.
			generation, parts = gen, map[int]*partState{}
			if s.Reset != nil {
				s.Reset()
			}
		}
		if s.Whole && len(held) < inParts {
			return false, nil // another member holds some: after it leaves, they are this one's to read
		}
		for _, p := range held {
			if !state(p).done() {
				return false, nil
			}
		}
		if len(held) == inParts {
			return true, nil
		}
		if time.Since(checked) < time.Second {
			return false, nil
		}
		checked = time.Now()
		metas, err := c.Committed(ctx)
		if err != nil {
			return false, fmt.Errorf("%s: %w", s.Name, err)
		}
		for p := range inParts {
			if slices.Contains(held, p) {
				continue
			}
			other := newPartState()
			other.resume(metas[p], w.RunID)
			if !other.done() {
				return false, nil
			}
		}
		return true, nil
	}
	send := func(out *Output) error {
		if out.err != nil {
			return fmt.Errorf("%s: %w", s.Name, out.err)
		}
		s.Counts.Emitted.Add(out.emitted)
		s.Counts.Truncated.Add(out.trunc)
		p := pending{msgs: out.msgs, generation: generation}
		settled := s.Settled == nil || s.Settled()
		if settled {
			p.commit = map[int]Offset{}
			for id, ps := range parts {
				if ps.seen {
					p.commit[id] = ps.commitAt(s.Settled != nil, w.RunID)
				}
			}
		}
		select {
		case queue <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		done, err := finished()
		if err != nil {
			return err
		}
		if done {
			break
		}
		// A bounded wait: with nothing to read, whether the member is done is asked again.
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		m, err := c.Fetch(fctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: consume %s: %w", s.Name, s.Input.Name, err)
		}
		if m.Generation != generation {
			if _, current := c.Assigned(); m.Generation != current {
				// Fetched in a generation that has ended, and left in the queue: its partition is read again
				// in the current one. Taken as a new assignment, it would throw away what the current
				// generation had read, and a partition read to its end would never end.
				continue
			}
			// A new assignment: every partition is read again from its committed offset.
			generation, parts = m.Generation, map[int]*partState{}
			if s.Reset != nil {
				s.Reset()
			}
		}
		ps := state(m.Partition)
		ps.seen = true
		out := e.output(&m)
		if err := handle(ctx, w, s, m, ps, out); err != nil {
			return err
		}
		ps.next = m.Offset + 1
		if len(ps.open) == 0 {
			ps.quiet = ps.next
		}
		if err := send(out); err != nil {
			return err
		}
	}
	out := e.output(nil)
	if s.Finish != nil {
		if err := s.Finish(ctx, out); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	held, _ := c.Assigned()
	for _, p := range held {
		end := schemas.Marker{Kind: schemas.RunEnd, Part: int64(p), Parts: int64(inParts)}
		if r := s.Replica; r.Of > 1 {
			end.Part, end.Parts = int64(r.Index*inParts+p), int64(r.Of*inParts)
		}
		for _, t := range s.Outputs {
			for q := range outParts[t] {
				out.marker(t, "", q, end)
			}
		}
	}
	w.log().Debug("stage input ended", "stage", s.Name, "partitions", held)
	return send(out)
}

// handle decodes one message and hands it to the stage.
func handle[In any](ctx context.Context, w Worker, s *Stage[In], m Message, ps *partState, out *Output) error {
	if run, _ := m.Header(HeaderRun); run != w.RunID {
		return nil // another run's message: not ours to count
	}
	if w.Observe != nil {
		defer func(start time.Time) { w.Observe(s.Name, time.Since(start)) }(time.Now())
	}
	schema, _ := m.Header(schemas.HeaderSchema)
	if schema == schemas.Markers.ID {
		markers, err := schemas.Markers.Decode(m.Value, w.codec())
		if err != nil {
			s.Counts.DeadMessages.Add(1)
			out.deadLetter(-1, m.Value, err)
			return nil
		}
		for _, mk := range markers {
			switch mk.Kind {
			case schemas.RunEnd:
				if _, ok := ps.ended[mk.Part]; !ok {
					ps.ended[mk.Part] = m.Offset
				}
				ps.parts = mk.Parts
			case schemas.StreamEnd:
				delete(ps.open, mk.Stream())
				if s.End != nil {
					if err := s.End(ctx, string(m.Key), mk, out); err != nil {
						return fmt.Errorf("%s: marker at %s: %w", s.Name, m.Source(), err)
					}
				}
			}
		}
		return nil
	}
	if schema != s.Input.Schema.ID && schemas.Known(schema) {
		return fmt.Errorf("%s: topic %s carries %s messages (%s), and the stage reads %s: wrong topic or prefix?", s.Name, s.Input.Name, schema, m.Source(), s.Input.Schema.ID)
	}
	if schema != s.Input.Schema.ID {
		s.Counts.DeadMessages.Add(1)
		out.deadLetter(-1, m.Value, fmt.Errorf("%w: message schema %q, want %q", schemas.ErrSchema, schema, s.Input.Schema.ID))
		return nil
	}
	rows, err := s.Input.Schema.Decode(m.Value, w.codec())
	if err != nil {
		s.Counts.DeadMessages.Add(1)
		out.deadLetter(-1, m.Value, err)
		return nil
	}
	s.Counts.In.Add(int64(len(rows)))
	var last schemas.Stream
	for i := range rows {
		if r, ok := any(&rows[i]).(streamed); ok {
			if st := r.Stream(); i == 0 || st != last { // a message mostly holds one stream
				ps.open[st], last = true, st
			}
		}
	}
	if err := s.Process(ctx, string(m.Key), rows, out); err != nil {
		return fmt.Errorf("%s: message %s: %w", s.Name, m.Source(), err)
	}
	s.Counts.Dead.Add(out.dead)
	s.Counts.Out.Add(int64(len(rows)) - out.dead)
	return nil
}

// Source is the output side of a stage with no input topic (ingest, publish): it produces what an Output
// holds, and ends the run on its topics.
type Source struct {
	Name   string
	Counts Counts
	w      Worker
	e      *emitter
}

// NewSource returns a source stage writing for w's run.
func NewSource(name string, w Worker) *Source {
	return &Source{Name: name, w: w, e: newEmitter(name, w)}
}

// Output returns an empty output to fill; from names what it came from, for dead letters ("" for none).
func (s *Source) Output(from string) *Output {
	return s.e.output(&Message{Topic: from, Headers: []Header{{Key: schemas.HeaderSchema, Value: []byte("file")}}})
}

// Send produces what out holds and counts it: in records are what the source read for it.
func (s *Source) Send(ctx context.Context, in int64, out *Output) error {
	if out.err != nil {
		return fmt.Errorf("%s: %w", s.Name, out.err)
	}
	s.Counts.In.Add(in)
	s.Counts.Dead.Add(out.dead)
	s.Counts.Out.Add(in - out.dead)
	s.Counts.Emitted.Add(out.emitted)
	if len(out.msgs) == 0 {
		return nil
	}
	if err := s.w.Transport.Produce(ctx, out.msgs...); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// EndRun tells every partition of each topic that this source (one upstream partition) has ended.
func (s *Source) EndRun(ctx context.Context, topics ...string) error {
	out := s.e.output(nil)
	for _, t := range topics {
		n, err := s.w.Transport.Partitions(ctx, t)
		if err != nil {
			return fmt.Errorf("%s: end run: %w", s.Name, err)
		}
		for q := range n {
			out.marker(t, "", q, schemas.Marker{Kind: schemas.RunEnd, Part: 0, Parts: 1})
		}
	}
	return s.Send(ctx, 0, out)
}
