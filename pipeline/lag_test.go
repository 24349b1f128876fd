package pipeline

import (
	"context"
	"testing"
	"time"
)

func TestBrokerLagCountsWhatAGroupHasNotCommitted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := embeddedWith(t, ctx, 2, "t")
	var msgs []Message
	for i, p := range []int{0, 0, 0, 1, 1} {
		msgs = append(msgs, Message{Topic: "t", Partition: p, Value: []byte{byte(i)}})
	}
	if err := b.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	lag := func(want int64) {
		t.Helper()
		got, err := b.Lag(ctx, "g", "t")
		if err != nil || got != want {
			t.Fatalf("lag = %d, %v; want %d", got, err, want)
		}
	}
	lag(5) // nothing committed: every record
	c, err := b.Join(ctx, "g", "t")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two of partition 0's three records and one of partition 1's two are committed past.
	if err := c.Commit(ctx, m.Generation, map[int]Offset{0: {Next: 2}, 1: {Next: 1}}); err != nil {
		t.Fatal(err)
	}
	lag(2)
}
