// Package pipelinetest runs stages in unit tests: an in-memory transport with a deployment's topics, and
// readers of what a stage wrote.
package pipelinetest

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"xling/pipeline"
	"xling/schemas"
)

// Setup returns a context that ends with the test (or after a minute), an in-memory transport holding
// every evaluation topic plus extra, each with the given partitions, and a worker of run "run1" on it.
//
// The worker's Allocator is a memory.CheckedAllocator, and the test fails if, once it is over, an Arrow
// buffer the stages took (decoding their input, encoding their output) is still out: every stage test
// checks that its stage gives back what it decodes.
func Setup(t testing.TB, partitions int, extra ...string) (context.Context, *pipeline.Memory, pipeline.Worker) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) }) // registered first, so it runs after the context's cancel
	m := pipeline.NewMemory()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	topics := pipeline.Topics{Prefix: "test.", Partitions: partitions}
	if err := m.CreateTopics(ctx, partitions, append(topics.Evaluation(), extra...)...); err != nil {
		t.Fatal(err)
	}
	return ctx, m, pipeline.Worker{Transport: m, Topics: topics, RunID: "run1", Allocator: mem}
}

// Topic is what a topic holds: its data records in order (partition by partition), its markers, and the
// run-end markers among them.
type Topic[T any] struct {
	Rows    []T
	Markers []schemas.Marker // stream ends
	RunEnds []schemas.Marker
	Keys    []string // the key of each data message
}

// Read decodes everything on topic t; a message it cannot decode fails the test.
func Read[T any](t testing.TB, m *pipeline.Memory, topic pipeline.Topic[T]) Topic[T] {
	t.Helper()
	var out Topic[T]
	for _, msg := range m.Messages(topic.Name) {
		schema, _ := msg.Header(schemas.HeaderSchema)
		switch schema {
		case schemas.Markers.ID:
			ms, err := schemas.Markers.Decode(msg.Value)
			if err != nil {
				t.Fatalf("%s: %v", msg.Source(), err)
			}
			for _, mk := range ms {
				if mk.Kind == schemas.RunEnd {
					out.RunEnds = append(out.RunEnds, mk)
				} else {
					out.Markers = append(out.Markers, mk)
				}
			}
		case topic.Schema.ID:
			rows, err := topic.Schema.Decode(msg.Value)
			if err != nil {
				t.Fatalf("%s: %v", msg.Source(), err)
			}
			out.Rows = append(out.Rows, rows...)
			out.Keys = append(out.Keys, string(msg.Key))
		default:
			t.Fatalf("%s: schema %q on %s", msg.Source(), schema, topic.Name)
		}
	}
	return out
}

// DeadLetters returns the reason of every dead letter of the run, in order.
func DeadLetters(m *pipeline.Memory, w pipeline.Worker) []string {
	var out []string
	for _, msg := range m.Messages(w.Topics.DeadLetter()) {
		r, _ := msg.Header(pipeline.HeaderReason)
		out = append(out, r)
	}
	return out
}

// Produce writes rows to topic under key as the source stage "test" of w's run, then each of markers as
// a stream end (its count taken from the rows), and ends the run on the topic.
func Produce[T any](t testing.TB, ctx context.Context, w pipeline.Worker, topic pipeline.Topic[T], key string, rows []T, markers ...schemas.Marker) {
	t.Helper()
	src := pipeline.NewSource("test", w)
	out := src.Output("test")
	if err := pipeline.Emit(out, topic, key, rows...); err != nil {
		t.Fatal(err)
	}
	for _, mk := range markers {
		out.EndStream(topic.Name, key, mk)
	}
	if err := src.Send(ctx, int64(len(rows)), out); err != nil {
		t.Fatal(err)
	}
	if err := src.EndRun(ctx, topic.Name); err != nil {
		t.Fatal(err)
	}
}
