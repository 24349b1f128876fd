package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"xling/schemas"
)

// scripted is a Consumer that hands out a fixed list of messages, then nothing, in the generation gen.
type scripted struct {
	mu   sync.Mutex
	gen  int
	msgs []Message
}

func (c *scripted) Fetch(ctx context.Context) (Message, error) {
	c.mu.Lock()
	if len(c.msgs) > 0 {
		m := c.msgs[0]
		c.msgs = c.msgs[1:]
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	<-ctx.Done()
	return Message{}, ctx.Err()
}

func (c *scripted) Assigned() ([]int, int)                            { return []int{0}, c.gen }
func (c *scripted) Commit(context.Context, int, map[int]Offset) error { return nil }
func (c *scripted) Resume(int) string                                 { return "" }
func (c *scripted) Committed(context.Context) (map[int]string, error) {
	return map[int]string{}, nil
}
func (c *scripted) Close() error { return nil }

// A message fetched in a generation that has ended can still be waiting when the new generation's
// messages arrive. It must be dropped: taken as a new assignment, it threw away what the current
// generation had read of the partition, which was then never read to its end, and the member waited
// forever.
func TestAMessageOfAnEndedGenerationIsDropped(t *testing.T) {
	marker := func(gen int, offset int64, part int64) Message {
		t.Helper()
		v, err := schemas.Markers.Encode([]schemas.Marker{{Kind: schemas.RunEnd, Part: part, Parts: 2}})
		if err != nil {
			t.Fatal(err)
		}
		return Message{Topic: "in", Partition: 0, Offset: offset, Value: v, Generation: gen,
			Headers: []Header{{Key: HeaderRun, Value: []byte("r")}, {Key: schemas.HeaderSchema, Value: []byte(schemas.Markers.ID)}}}
	}
	c := &scripted{gen: 2, msgs: []Message{
		marker(2, 0, 0), // the current generation reads the partition's first run end,
		marker(1, 1, 1), // a message of the generation before is still in the queue,
		marker(2, 1, 1), // and the current generation reads the second: the partition has ended.
	}}
	w := Worker{RunID: "r"}
	s := &Stage[schemas.Record]{Name: "s", Input: Topic[schemas.Record]{Name: "in", Schema: schemas.Item},
		Process: func(context.Context, string, []schemas.Record, *Output) error { return nil }}
	queue := make(chan pending, 16)
	go func() {
		for range queue {
		}
	}()
	defer close(queue)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := loop(ctx, w, s, c, newEmitter(s.Name, w), queue, 1, nil); err != nil {
		t.Fatalf("the member did not finish a partition read to its end: %v", err)
	}
}
