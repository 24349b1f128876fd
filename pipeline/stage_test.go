package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"xling/schemas"
)

// startPipeline starts an embedded broker with xling's topics and an "ingest" stage to produce with. The
// returned context ends after timeout; everything is closed when the test ends.
func startPipeline(t *testing.T, timeout time.Duration) (context.Context, *Broker, Topics, *Stage) {
	t.Helper()
	b, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	topics := DefaultTopics()
	if err := b.CreateTopics(ctx, topics); err != nil {
		t.Fatal(err)
	}
	prod := NewStage("ingest", b, topics, "run1")
	t.Cleanup(func() { prod.Close() })
	return ctx, b, topics, prod
}

func TestConsumeDeliversRecordsInOrderAndStopsAtRunEnd(t *testing.T) {
	ctx, b, topics, prod := startPipeline(t, 30*time.Second)
	for _, lang := range []string{"en", "de", "th"} {
		rows := []schemas.Record{{Dataset: "d", Lang: lang, Kind: "query", ID: lang + "/q/1", Text: "a"}, {Dataset: "d", Lang: lang, Kind: "query", ID: lang + "/q/2", Text: "b"}}
		if err := Send(ctx, prod, topics.Items(), "d/"+lang, schemas.Item, rows); err != nil {
			t.Fatal(err)
		}
		if err := prod.SendMarkers(ctx, topics.Items(), "d/"+lang, schemas.Marker{Kind: schemas.StreamEnd, Dataset: "d", Lang: lang, ItemKind: "query", Count: 2}); err != nil {
			t.Fatal(err)
		}
	}
	// A message from a foreign producer that is not Arrow at all.
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs...), Topic: topics.Items()}
	if err := w.WriteMessages(ctx,
		kafka.Message{Key: []byte("d/en"), Value: []byte("garbage"), Headers: []kafka.Header{{Key: schemas.HeaderSchema, Value: []byte(schemas.Item.ID)}}},
		kafka.Message{Key: []byte("d/de"), Value: []byte("not a marker"), Headers: []kafka.Header{{Key: schemas.HeaderSchema, Value: []byte(schemas.Markers.ID)}}},
	); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := prod.EndRun(ctx, topics.Items()); err != nil {
		t.Fatal(err)
	}

	cons := NewStage("tokenize", b, topics, "run1")
	defer cons.Close()
	seen := map[string][]string{} // lang -> ids then "end"
	err := cons.Consume(ctx, topics.Items(), true, func(ctx context.Context, m Message) error {
		if m.Markers != nil {
			for _, mk := range m.Markers {
				if mk.Kind == schemas.StreamEnd {
					seen[mk.Lang] = append(seen[mk.Lang], "end")
				}
			}
			return nil
		}
		rows, ok, err := Decode(ctx, cons, m, schemas.Item)
		if err != nil || !ok {
			return err
		}
		for _, r := range rows {
			seen[r.Lang] = append(seen[r.Lang], r.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "de", "th"} {
		want := lang + "/q/1," + lang + "/q/2,end"
		if got := strings.Join(seen[lang], ","); got != want {
			t.Errorf("%s: got %s, want %s", lang, got, want)
		}
	}
	got := cons.Counts.Snapshot()
	if got.In != 6 || got.DeadMessages != 2 {
		t.Errorf("counts = %+v, want In 6, DeadMessages 2 (a bad data message and a bad marker)", got)
	}

	// The garbage message is on the dead-letter topic with its reason.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs, Topic: topics.DeadLetter(), Partition: partitionOf(t, b, topics.DeadLetter(), "tokenize"), MaxWait: 20 * time.Millisecond})
	defer r.Close()
	reasons := map[string]map[string]string{} // value -> headers
	for len(reasons) < 2 {
		dl, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for _, x := range dl.Headers {
			h[x.Key] = string(x.Value)
		}
		reasons[string(dl.Value)] = h
	}
	for value, schema := range map[string]string{"garbage": "xling.item.v1", "not a marker": "xling.marker.v1"} {
		h := reasons[value]
		if h[HeaderStage] != "tokenize" || !strings.Contains(h[HeaderReason], schema) || h[HeaderRecord] != "-1" || h[HeaderSource] == "" {
			t.Errorf("dead letter %q: headers %v", value, h)
		}
	}
}

// partitionOf finds where the stage's partitioner puts a key.
func partitionOf(t *testing.T, b *Broker, topic, key string) int {
	t.Helper()
	n, err := b.Partitions(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return (&partitioner{}).Balance(kafka.Message{Key: []byte(key)}, parts...)
}

// A fetch must not have to arrive within a few milliseconds: batches of several megabytes on a loaded
// machine take longer, and kafka-go retries a timed-out fetch forever (the stall `make run` once hit).
// Send splits each 4 MiB batch into messages under MaxMessageBytes, which must arrive whole and in order.
func TestConsumeDeliversMegabyteBatchesInOrder(t *testing.T) {
	ctx, b, topics, prod := startPipeline(t, 60*time.Second)
	const batches, rowsPerBatch = 6, 64
	text := strings.Repeat("x", 64<<10)
	var want []string
	for i := range batches {
		rows := make([]schemas.Record, rowsPerBatch)
		for j := range rows {
			rows[j] = schemas.Record{Dataset: "d", Lang: "en", Kind: "candidate", ID: fmt.Sprintf("en/c/%d/%d", i, j), Text: text}
			want = append(want, rows[j].ID)
		}
		if err := Send(ctx, prod, topics.Items(), "d/en", schemas.Item, rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.EndRun(ctx, topics.Items()); err != nil {
		t.Fatal(err)
	}
	cons := NewStage("tokenize", b, topics, "run1")
	defer cons.Close()
	var got []string
	messages := 0
	err := cons.Consume(ctx, topics.Items(), true, func(ctx context.Context, m Message) error {
		if m.Markers != nil {
			return nil
		}
		if len(m.Value) > MaxMessageBytes {
			t.Errorf("message %s is %d bytes, over %d", m.Source(), len(m.Value), MaxMessageBytes)
		}
		messages++
		rows, _, err := Decode(ctx, cons, m, schemas.Item)
		for _, r := range rows {
			got = append(got, r.ID)
		}
		return err
	})
	if err != nil {
		t.Fatalf("consume: %v (after %d rows)", err, len(got))
	}
	if !slices.Equal(got, want) {
		t.Errorf("consumed %d rows, want %d in the order sent", len(got), len(want))
	}
	if messages < 4*batches {
		t.Errorf("%d messages for %d batches of 4 MiB: not split under the message limit", messages, batches)
	}
}

// ConsumeOverlapped runs a message's produce while the next message computes, produces in message order,
// and commits nothing whose produce failed: a new member of the group starts again at that message.
func TestConsumeOverlappedOrdersProduceAndCommitsAfterIt(t *testing.T) {
	ctx, b, topics, prod := startPipeline(t, 30*time.Second)
	const n = 6
	for i := range n {
		rows := []schemas.Record{{Dataset: "d", Lang: "en", Kind: "query", ID: fmt.Sprintf("en/q/%d", i), Text: "a"}}
		if err := Send(ctx, prod, topics.Items(), "d/en", schemas.Item, rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.EndRun(ctx, topics.Items()); err != nil {
		t.Fatal(err)
	}

	idOf := func(ctx context.Context, st *Stage, m Message) string {
		rows, _, err := Decode(ctx, st, m, schemas.Item)
		if err != nil || len(rows) != 1 {
			t.Fatalf("decode %s: %v (%d rows)", m.Source(), err, len(rows))
		}
		return rows[0].ID
	}
	cons := NewStage("tokenize", b, topics, "run1")
	handled := make(chan string, n)
	var produced []string
	failAt := fmt.Sprintf("en/q/%d", n-2)
	errProduce := errors.New("produce failed")
	err := cons.ConsumeOverlapped(ctx, topics.Items(), true, func(ctx context.Context, m Message) (func(context.Context) error, error) {
		if m.Markers != nil {
			return nil, nil
		}
		id := idOf(ctx, cons, m)
		handled <- id
		return func(ctx context.Context) error {
			if id == "en/q/0" {
				// Overlap: the next message is handled while this one is still being produced.
				select {
				case next := <-handled:
					if next == id {
						next = <-handled
					}
					if next != "en/q/1" {
						return fmt.Errorf("handled %s while producing %s", next, id)
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if id == failAt {
				return errProduce
			}
			produced = append(produced, id)
			return nil
		}, nil
	})
	cons.Close()
	if !errors.Is(err, errProduce) {
		t.Fatalf("err = %v, want the produce error", err)
	}
	var want []string
	for i := range n - 2 {
		want = append(want, fmt.Sprintf("en/q/%d", i))
	}
	if !slices.Equal(produced, want) {
		t.Errorf("produced %v, want %v in order", produced, want)
	}

	// The failed message was not committed: the group resumes there. (Other partitions' run-end markers
	// were committed, so this member reads until it has its first message, then stops.)
	again := NewStage("tokenize", b, topics, "run1")
	defer again.Close()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	var first string
	err = again.Consume(actx, topics.Items(), false, func(ctx context.Context, m Message) error {
		if m.Markers == nil && first == "" {
			first = idOf(ctx, again, m)
			stop()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("second consume: %v", err)
	}
	if first != failAt {
		t.Errorf("group resumed at %q, want the uncommitted %q", first, failAt)
	}
}
