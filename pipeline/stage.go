package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"xling/schemas"
)

// Headers set on every message xling writes.
const (
	HeaderRun       = "xling-run"       // run id
	HeaderPartition = "xling-partition" // explicit partition (run-end markers go to every partition)
	HeaderReason    = "xling-reason"    // dead letters: why
	HeaderStage     = "xling-stage"     // dead letters: which stage rejected it
	HeaderSource    = "xling-source"    // dead letters: topic/partition/offset it came from
	HeaderRecord    = "xling-record"    // dead letters: index of the record in its batch, -1 for the whole message
)

// Counts are a stage's books, in records: In = Out + Dead once the stage has drained its input.
// DeadMessages counts messages rejected whole (they could not be decoded, so their records are unknown).
// Truncated counts records cut to a model's maximum length: kept, but never silently.
type Counts struct {
	In, Out, Dead, DeadMessages, Truncated atomic.Int64
}

// Snapshot is a plain copy of Counts.
type Snapshot struct{ In, Out, Dead, DeadMessages, Truncated int64 }

// Snapshot reads the counters.
func (c *Counts) Snapshot() Snapshot {
	return Snapshot{c.In.Load(), c.Out.Load(), c.Dead.Load(), c.DeadMessages.Load(), c.Truncated.Load()}
}

// Message is a consumed Kafka message with its schema id and, for control messages, its markers decoded.
type Message struct {
	kafka.Message
	Schema  string
	Markers []schemas.Marker
}

// Source says where a message came from, for dead letters and errors.
func (m Message) Source() string {
	return m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10)
}

// Stage is one processing step's connection to the broker: it consumes one topic as a member of the
// consumer group "<prefix><name>", produces to any topic, and dead-letters what it cannot process.
type Stage struct {
	Name   string
	Broker *Broker
	Topics Topics
	RunID  string
	Counts Counts

	w *kafka.Writer
}

// NewStage connects a stage to the broker.
func NewStage(name string, b *Broker, topics Topics, runID string) *Stage {
	return &Stage{
		Name: name, Broker: b, Topics: topics, RunID: runID,
		w: &kafka.Writer{
			Addr:         kafka.TCP(b.Addrs...),
			Balancer:     &partitioner{},
			BatchTimeout: time.Millisecond,
			// A produced record batch must fit the broker's message.max.bytes (1 MiB by default) as a
			// message does, so kafka-go splits a call's messages into batches of this size.
			BatchBytes:             1 << 20,
			RequiredAcks:           kafka.RequireAll,
			AllowAutoTopicCreation: false,
			ErrorLogger:            b.errorLogger(name),
		},
	}
}

// Close flushes and closes the stage's producer.
func (s *Stage) Close() error { return s.w.Close() }

// partitioner sends a message to the partition named in its HeaderPartition header, else by key hash.
type partitioner struct{ hash kafka.Hash }

func (p *partitioner) Balance(msg kafka.Message, partitions ...int) int {
	for _, h := range msg.Headers {
		if h.Key == HeaderPartition {
			if n, err := strconv.Atoi(string(h.Value)); err == nil {
				return n
			}
		}
	}
	return p.hash.Balance(msg, partitions...)
}

func (s *Stage) headers(schema string) []kafka.Header {
	return []kafka.Header{{Key: schemas.HeaderSchema, Value: []byte(schema)}, {Key: HeaderRun, Value: []byte(s.RunID)}}
}

// MaxMessageBytes keeps every message under Kafka's default broker limit (message.max.bytes, 1 MiB).
const MaxMessageBytes = 1000 << 10

// Send writes rows as Arrow batch messages, one batch per message, each under MaxMessageBytes, and produces
// all of them in one call (one round trip, not one per message). It does not count the rows: the stage knows
// what its output is.
func Send[T any](ctx context.Context, s *Stage, topic, key string, schema *schemas.Schema[T], rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	msgs, err := encodeMessages(s, topic, key, schema, rows)
	if err != nil {
		return err
	}
	if err := s.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("%s: produce to %s: %w", s.Name, topic, err)
	}
	return nil
}

// encodeMessages encodes rows as Arrow batches of at most MaxMessageBytes each. Batch sizes adapt: each
// batch is sized from the bytes per row of the one before it to fill about 90% of the limit, and a batch that
// comes out too large is encoded again with fewer rows, so a row is usually encoded once.
func encodeMessages[T any](s *Stage, topic, key string, schema *schemas.Schema[T], rows []T) ([]kafka.Message, error) {
	const probe = 1024 // rows in the first batch, before any size is known
	var msgs []kafka.Message
	per := min(len(rows), probe)
	for start := 0; start < len(rows); {
		end := min(len(rows), start+per)
		value, err := schema.Encode(rows[start:end])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		fit := max(1, (end-start)*(MaxMessageBytes/10*9)/len(value))
		if len(value) > MaxMessageBytes {
			if end-start == 1 {
				return nil, fmt.Errorf("%s: one %s record is %d bytes, over the %d-byte message limit", s.Name, schema.ID, len(value), MaxMessageBytes)
			}
			per = min(fit, end-start-1)
			continue
		}
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(key), Value: value, Headers: s.headers(schema.ID)})
		start, per = end, fit
	}
	return msgs, nil
}

// SendMarkers writes control markers on a key, after the data they close.
func (s *Stage) SendMarkers(ctx context.Context, topic, key string, ms ...schemas.Marker) error {
	return Send(ctx, s, topic, key, schemas.Markers, ms)
}

// EndRun writes a RunEnd marker to every partition of topic: nothing more follows in this run.
func (s *Stage) EndRun(ctx context.Context, topic string) error {
	n, err := s.Broker.Partitions(ctx, topic)
	if err != nil {
		return fmt.Errorf("%s: end run: %w", s.Name, err)
	}
	value, err := schemas.Markers.Encode([]schemas.Marker{{Kind: schemas.RunEnd}})
	if err != nil {
		return err
	}
	msgs := make([]kafka.Message, n)
	for p := range msgs {
		msgs[p] = kafka.Message{Topic: topic, Value: value,
			Headers: append(s.headers(schemas.Markers.ID), kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(p))})}
	}
	if err := s.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("%s: end run on %s: %w", s.Name, topic, err)
	}
	return nil
}

// DeadLetter sends a rejected message (record < 0) or one rejected record of it to the dead-letter topic with
// the reason, and counts it.
func (s *Stage) DeadLetter(ctx context.Context, from Message, record int, payload any, reason error) error {
	var value []byte
	if record < 0 {
		value = from.Value
		s.Counts.DeadMessages.Add(1)
	} else {
		var err error
		if value, err = json.Marshal(payload); err != nil {
			// Not every record is JSON (NaN, say): keep it in Go syntax rather than lose it.
			value = fmt.Appendf(nil, "%+v", payload)
		}
		s.Counts.Dead.Add(1)
	}
	msg := kafka.Message{Topic: s.Topics.DeadLetter(), Key: []byte(s.Name), Value: value, Headers: []kafka.Header{
		{Key: HeaderRun, Value: []byte(s.RunID)},
		{Key: HeaderStage, Value: []byte(s.Name)},
		{Key: HeaderReason, Value: []byte(reason.Error())},
		{Key: HeaderSource, Value: []byte(from.Source())},
		{Key: HeaderRecord, Value: []byte(strconv.Itoa(record))},
		{Key: schemas.HeaderSchema, Value: []byte(from.Schema)},
	}}
	if err := s.w.WriteMessages(ctx, msg); err != nil {
		return fmt.Errorf("%s: dead-letter to %s: %w", s.Name, s.Topics.DeadLetter(), err)
	}
	return nil
}

// Decode decodes a data message with schema; a message that is not of that schema, or cannot be decoded,
// is dead-lettered whole and ok is false. In counts the decoded records.
func Decode[T any](ctx context.Context, s *Stage, m Message, schema *schemas.Schema[T]) (rows []T, ok bool, err error) {
	if m.Schema != schema.ID {
		return nil, false, s.DeadLetter(ctx, m, -1, nil, fmt.Errorf("%w: message schema %q, want %q", schemas.ErrSchema, m.Schema, schema.ID))
	}
	rows, derr := schema.Decode(m.Value)
	if derr != nil {
		return nil, false, s.DeadLetter(ctx, m, -1, nil, derr)
	}
	s.Counts.In.Add(int64(len(rows)))
	return rows, true, nil
}

// Parse reads a message's schema id and, for a control message, decodes its markers.
func Parse(km kafka.Message) (Message, error) {
	m := Message{Message: km}
	for _, h := range km.Headers {
		if h.Key == schemas.HeaderSchema {
			m.Schema = string(h.Value)
		}
	}
	if m.Schema != schemas.Markers.ID {
		return m, nil
	}
	ms, err := schemas.Markers.Decode(km.Value)
	if err != nil {
		return m, err
	}
	m.Markers = ms
	return m, nil
}

// Consume reads topic as a member of the stage's consumer group and calls handle for each message, committing
// its offset once handle returns nil. With untilRunEnd it returns nil after every partition of the topic has
// delivered a RunEnd marker (a batch run); otherwise it runs until ctx ends. An error from handle stops it.
// Markers are decoded into Message.Markers; undecodable marker messages are dead-lettered.
func (s *Stage) Consume(ctx context.Context, topic string, untilRunEnd bool, handle func(context.Context, Message) error) error {
	return s.ConsumeOverlapped(ctx, topic, untilRunEnd, func(ctx context.Context, m Message) (func(context.Context) error, error) {
		return nil, handle(ctx, m)
	})
}

// ConsumeOverlapped is Consume for a stage whose work on a message has two halves: handle computes in the
// consuming goroutine and returns a produce function (nil for none), which a second goroutine runs while
// the next message computes. Produce functions run one at a time in message order, and a message's offset
// is committed only after its produce returns nil, so output is never lost to an early commit. Anything a
// stage sends that must stay in order with its output (stream-end markers) belongs in produce.
func (s *Stage) ConsumeOverlapped(ctx context.Context, topic string, untilRunEnd bool, handle func(context.Context, Message) (func(context.Context) error, error)) error {
	parts, err := s.Broker.Partitions(ctx, topic)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:  s.Broker.Addrs,
		GroupID:  s.Topics.Prefix + s.Name,
		Topic:    topic,
		MinBytes: 1,
		MaxBytes: 16 << 20,
		// kafka-go gives a whole fetch response MaxWait to arrive: a short one livelocks a loaded machine
		// on a large batch (the fetch times out and is retried forever), so keep it long. A fetch still
		// returns as soon as there is data, so this adds no latency.
		MaxWait:        time.Second,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 200 * time.Millisecond,
		ErrorLogger:    s.Broker.errorLogger(s.Name),
	})
	defer r.Close()

	type done struct {
		km      kafka.Message
		source  string
		produce func(context.Context) error
	}
	// One message waits while another is produced: compute and produce overlap, memory stays bounded.
	pending := make(chan done, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for d := range pending {
			if d.produce != nil {
				if err := d.produce(gctx); err != nil {
					return fmt.Errorf("%s: message %s: %w", s.Name, d.source, err)
				}
			}
			if err := r.CommitMessages(gctx, d.km); err != nil {
				return fmt.Errorf("%s: commit %s: %w", s.Name, d.source, err)
			}
		}
		return nil
	})
	err = func() error {
		ended := make(map[int]bool, parts)
		for !untilRunEnd || len(ended) < parts {
			km, err := r.FetchMessage(gctx)
			if err != nil {
				return fmt.Errorf("%s: consume %s: %w", s.Name, topic, err)
			}
			m, perr := Parse(km)
			var produce func(context.Context) error
			if perr != nil {
				// An undecodable control message: dead-lettered, and not handed to the stage.
				if err := s.DeadLetter(gctx, m, -1, nil, perr); err != nil {
					return err
				}
			} else {
				for _, mk := range m.Markers {
					if mk.Kind == schemas.RunEnd {
						ended[km.Partition] = true
					}
				}
				if produce, err = handle(gctx, m); err != nil {
					return fmt.Errorf("%s: message %s: %w", s.Name, m.Source(), err)
				}
			}
			select {
			case pending <- done{km: km, source: m.Source(), produce: produce}:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	}()
	close(pending)
	if werr := g.Wait(); werr != nil {
		return werr // the producer's error is the cause; the loop only saw the cancellation
	}
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
