package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// consumedTopic is what a topic on a cluster holds: its distinct data record ids, and the count of every
// stream-end marker by language (a marker sent again, at least once, shows twice).
type consumedTopic struct {
	ids  []string
	ends map[string][]int64
}

// readKafka reads every partition of topic until it has seen runEnds run-end markers there (one per input
// partition of the stage that wrote it), decoding token records and markers.
func readKafka(t *testing.T, ctx context.Context, tr Transport, topic string, partitions, runEnds int) consumedTopic {
	t.Helper()
	out := consumedTopic{ends: map[string][]int64{}}
	for p := range partitions {
		r, err := tr.Read(ctx, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		for seen := 0; seen < runEnds; {
			msg, err := r.Next(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("%s/%d after %d run ends: %v", topic, p, seen, err)
			}
			ids, streamEnds, n := decodeTokens(t, msg)
			out.ids = append(out.ids, ids...)
			for _, mk := range streamEnds {
				out.ends[mk.Lang] = append(out.ends[mk.Lang], mk.Count)
			}
			seen += n
		}
		r.Close()
	}
	slices.Sort(out.ids)
	out.ids = slices.Compact(out.ids)
	return out
}

// embeddedWith starts an embedded broker of one node, closed when the test ends, with topics of the given
// partitions.
func embeddedWith(t *testing.T, ctx context.Context, partitions int, topics ...string) *Broker {
	t.Helper()
	b, err := Embedded("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.CreateTopics(ctx, partitions, topics...); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConnSetClosesTheConnectionsItsDialerMade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var set connSet
	d := set.dialer(&kafka.Dialer{})
	var logged []string
	log := set.logger(kafka.LoggerFunc(func(format string, args ...any) { logged = append(logged, format) }))
	log.Printf("before")
	ctx := context.Background()
	var conns []net.Conn
	for range 3 {
		c, err := d.DialFunc(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// One closed by its user leaves the set: a client that redials does not grow it.
	conns[0].Close()
	if n := len(set.conns); n != 2 {
		t.Fatalf("set holds %d connections after one of 3 closed, want 2", n)
	}
	set.close()
	log.Printf("after") // the client's reads on the connections closed under it
	if !slices.Equal(logged, []string{"before"}) {
		t.Errorf("logged %q, want only what came before the close", logged)
	}
	for i := range 3 {
		server := <-accepted
		server.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("connection %d: server read %v, want EOF: the set did not close it", i, err)
		}
		server.Close()
	}
	if _, err := conns[1].Write([]byte("x")); err == nil {
		t.Error("write on a connection the set closed succeeded")
	}
}
