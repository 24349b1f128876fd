package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// faultTopics are the topics of the fault runs: 3 partitions, so that they spread over the 3 brokers.
var faultTopics = Topics{Prefix: "f.", Partitions: 3}

// faultTexts are 6 languages of 10 queries, one of each rejected by the echo stage.
func faultTexts() map[string][]string {
	texts := map[string][]string{}
	for _, l := range []string{"ar", "de", "en", "es", "hi", "th"} {
		for i := range 10 {
			text := fmt.Sprintf("%s %d", l, i)
			if i == 3 {
				text = "bad"
			}
			texts[l] = append(texts[l], text)
		}
	}
	return texts
}

// faultRun is what a run left: its output topic and the echo stage's counts, or the error that ended it
// and how long it took.
type faultRun struct {
	out     consumedTopic
	counts  Snapshot
	err     error
	elapsed time.Duration
}

// injector sets up a fault on cluster c before the run, and may return a function that runs beside the
// pipeline: ingested is closed once the input is on its topic, stop once the pipeline has ended.
type injector func(t *testing.T, c *kfake.Cluster, b *Broker) func(ingested, stop <-chan struct{})

// runWithFault starts a 3-node embedded cluster, lets inject set up a fault, then ingests faultTexts and
// runs the echo stage.
func runWithFault(t *testing.T, giveUp time.Duration, inject injector) faultRun {
	t.Helper()
	b, err := Embedded("127.0.0.1:0", 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.retry = newRetrier(Retry{Backoff: 50 * time.Millisecond, MaxBackoff: time.Second, GiveUp: giveUp, Seed: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.CreateTopics(ctx, faultTopics.Partitions, faultTopics.Evaluation()...); err != nil {
		t.Fatal(err)
	}
	var during func(ingested, stop <-chan struct{})
	if inject != nil {
		during = inject(t, b.Cluster(), b)
	}
	ingested, stop := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	if during != nil {
		wg.Go(func() { during(ingested, stop) })
	}
	w := Worker{Transport: b, Topics: faultTopics, RunID: "r1"}
	st := echo(w.Topics)
	start := time.Now()
	_, err = sendTexts(ctx, w, faultTexts())
	close(ingested)
	if err == nil {
		err = Run(ctx, w, st)
	}
	run := faultRun{err: err, elapsed: time.Since(start), counts: st.Counts.Snapshot()}
	close(stop)
	wg.Wait()
	if err == nil {
		run.out = readKafka(t, ctx, b, faultTopics.Tokens().Name, faultTopics.Partitions, faultTopics.Partitions)
	}
	return run
}

// dropConnections closes the connection of the next n requests of key, at any node.
func dropConnections(c *kfake.Cluster, key kmsg.Key, n int) {
	var mu sync.Mutex
	c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if n == 0 {
			c.DropControl()
			return nil, nil, false
		}
		n--
		c.KeepControl()
		return nil, errors.New("connection dropped by the test"), true
	})
}

// Every fault that may pass is ridden out: the run finishes with the records of a clean run, each
// stream-end marker with its stream's whole count, and the same stage counts.
func TestRetriableBrokerFaultsLeaveTheOutputOfACleanRun(t *testing.T) {
	clean := runWithFault(t, 20*time.Second, nil)
	if clean.err != nil {
		t.Fatal(clean.err)
	}
	if len(clean.out.ids) != 54 || len(clean.out.ends) != 6 {
		t.Fatalf("clean run: %d records, stream ends %v; want 54 records of 6 languages", len(clean.out.ids), clean.out.ends)
	}
	tokens, items, group := faultTopics.Tokens().Name, faultTopics.Items().Name, faultTopics.Prefix+"echo"
	fault := func(f kfake.Fault) injector {
		return func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			h := c.Fault(f)
			t.Cleanup(func() {
				if h.Hits() == 0 {
					t.Errorf("the fault never struck")
				}
			})
			return nil
		}
	}
	for _, tc := range []struct {
		name   string
		inject injector
	}{
		{"produce: NOT_LEADER_FOR_PARTITION x5", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Err: kerr.NotLeaderForPartition, Count: 5})},
		{"produce: NOT_ENOUGH_REPLICAS x14, past kafka-go's 3 attempts", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Partitions: []int32{1}, Err: kerr.NotEnoughReplicas, Count: 14})},
		{"produce: REQUEST_TIMED_OUT x3 after appending", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Err: kerr.RequestTimedOut, Count: 3})},
		{"fetch: KAFKA_STORAGE_ERROR x5", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: items, Err: kerr.KafkaStorageError, Count: 5})},
		{"fetch: NOT_LEADER_FOR_PARTITION x5", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: items, Err: kerr.NotLeaderForPartition, Count: 5})},
		{"offset commit: COORDINATOR_LOAD_IN_PROGRESS x4", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Err: kerr.CoordinatorLoadInProgress, Count: 4})},
		{"offset commit: NOT_COORDINATOR x4", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Err: kerr.NotCoordinator, Count: 4})},
		{"offset fetch: COORDINATOR_NOT_AVAILABLE x3", fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: group, Err: kerr.CoordinatorNotAvailable, Count: 3})},
		{"dropped connections: produce x5", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			dropConnections(c, kmsg.Produce, 5)
			return nil
		}},
		{"dropped connections: fetch x5", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			dropConnections(c, kmsg.Fetch, 5)
			return nil
		}},
		{"partition leaders moving between brokers", func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return func(_, stop <-chan struct{}) {
				for node := int32(0); ; node = (node + 1) % 3 {
					for p := range int32(faultTopics.Partitions) {
						for _, topic := range []string{items, tokens} {
							if err := c.MoveTopicPartition(topic, p, (node+p)%3); err != nil {
								t.Error(err)
							}
						}
					}
					select {
					case <-stop:
						return
					case <-time.After(150 * time.Millisecond):
					}
				}
			}
		}},
		{"group coordinator moving", func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return func(_, stop <-chan struct{}) {
				for {
					c.RehashCoordinators()
					select {
					case <-stop:
						return
					case <-time.After(300 * time.Millisecond):
					}
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runWithFault(t, 20*time.Second, tc.inject)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if !slices.Equal(got.out.ids, clean.out.ids) {
				t.Errorf("records %v\nwant %v", got.out.ids, clean.out.ids)
			}
			for lang, want := range clean.out.ends {
				if ends := got.out.ends[lang]; len(ends) == 0 || slices.ContainsFunc(ends, func(n int64) bool { return n != want[0] }) {
					t.Errorf("stream-end markers of %s carry %v, want %d each", lang, ends, want[0])
				}
			}
			if got.counts.Out != clean.counts.Out || got.counts.Dead != clean.counts.Dead {
				t.Errorf("counts %+v, clean run %+v", got.counts, clean.counts)
			}
			t.Logf("finished identical in %s (clean run %s)", got.elapsed.Round(time.Millisecond), clean.elapsed.Round(time.Millisecond))
		})
	}
}

// A fault that cannot pass, or a broker that stays down, ends the run with an error that names the broker,
// the topic and the partition, in about Retry.GiveUp at most.
func TestLastingBrokerFaultsEndTheRunNamingWhere(t *testing.T) {
	const giveUp = 6 * time.Second
	tokens := faultTopics.Tokens().Name
	for _, tc := range []struct {
		name   string
		inject injector
		want   []string // in the error; {leader}: the leader of tokens partition 1, {coordinator}: the group's
	}{
		{"produce: UNKNOWN_SERVER_ERROR, not retriable", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Partitions: []int32{1}, Err: kerr.UnknownServerError, Count: -1})
			return nil
		}, []string{"produce to " + tokens + " partition 1 (leader: {leader})", "UNKNOWN_SERVER_ERROR"}},
		{"produce: NOT_ENOUGH_REPLICAS that never passes", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Partitions: []int32{1}, Err: kerr.NotEnoughReplicas, Count: -1})
			return nil
		}, []string{"produce to " + tokens + " partition 1 (leader: {leader})", "still failing after 6s", "Not Enough Replicas"}},
		{"fetch: UNKNOWN_SERVER_ERROR, not retriable", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: faultTopics.Items().Name, Partitions: []int32{1}, Err: kerr.UnknownServerError, Count: -1})
			return nil
		}, []string{"read " + faultTopics.Items().Name + " partition 1 (leader: broker ", "an unexpected server error"}},
		{"the leader of a partition stays down", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			down := c.LeaderFor(tokens, 1)
			c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if c.CurrentNode() != down {
					return nil, nil, false
				}
				return nil, errors.New("broker down"), true
			})
			return nil
			// Whichever request meets it first ends the run: a produce to one of its partitions, or the group's
			// (kafka-go asks the first bootstrap broker that accepts a connection for the coordinator).
		}, []string{"still failing after 6s", "broker "}},
		{"the group coordinator stays down once the input is in", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return func(ingested, _ <-chan struct{}) {
				<-ingested
				down := c.CoordinatorFor(faultTopics.Prefix + "echo")
				c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					if c.CurrentNode() != down {
						return nil, nil, false
					}
					return nil, errors.New("broker down"), true
				})
			}
		}, []string{"(coordinator: {coordinator})", "still failing after 6s"}},
		{"every broker stays down once the input is in", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return func(ingested, _ <-chan struct{}) {
				<-ingested
				c.Close()
			}
		}, []string{"still failing after 6s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var leader, coordinator string
			got := runWithFault(t, giveUp, func(t *testing.T, c *kfake.Cluster, b *Broker) func(_, _ <-chan struct{}) {
				_, leader = b.leaderOf(tokens, 1, nil)
				coordinator = b.coordinator(faultTopics.Prefix + "echo")
				return tc.inject(t, c, b)
			})
			if got.err == nil {
				t.Fatal("the run finished")
			}
			for _, w := range tc.want {
				if w = strings.NewReplacer("{leader}", leader, "{coordinator}", coordinator).Replace(w); !strings.Contains(got.err.Error(), w) {
					t.Errorf("err = %v\nwant it to say %q", got.err, w)
				}
			}
			if limit := giveUp + 10*time.Second; got.elapsed > limit {
				t.Errorf("the run took %s to end, over %s", got.elapsed, limit)
			}
			t.Logf("ended in %s: %v", got.elapsed.Round(time.Millisecond), got.err)
		})
	}
}
