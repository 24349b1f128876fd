package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"xling/schemas"
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
// runs the echo stage, which takes slow over each batch (so that a fault has a run long enough to land in).
func runWithFault(t *testing.T, giveUp, slow time.Duration, inject injector) faultRun {
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
	if slow > 0 {
		process := st.Process
		st.Process = func(ctx context.Context, key string, rows []schemas.Record, o *Output) error {
			select {
			case <-time.After(slow):
			case <-ctx.Done():
				return ctx.Err()
			}
			return process(ctx, key, rows, o)
		}
	}
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

// dropConnections closes the connection of the next n requests of key, at any node, and returns the count
// of connections it closed.
func dropConnections(c *kfake.Cluster, key kmsg.Key, n int) *atomic.Int64 {
	var mu sync.Mutex
	var dropped atomic.Int64
	c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if n == 0 {
			c.DropControl()
			return nil, nil, false
		}
		n--
		dropped.Add(1)
		c.KeepControl()
		return nil, errors.New("connection dropped by the test"), true
	})
	return &dropped
}

// delayResponses holds the next n requests of key (every one for n < 0) for d before the broker answers
// them as usual, and returns the count it held. A held request holds those behind it on its connection
// (a broker answers a connection's requests in order); other connections go on.
func delayResponses(c *kfake.Cluster, key kmsg.Key, d time.Duration, n int) *atomic.Int64 {
	var mu sync.Mutex
	var held atomic.Int64
	c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		if n == 0 {
			mu.Unlock()
			c.DropControl()
			return nil, nil, false
		}
		n--
		mu.Unlock()
		held.Add(1)
		c.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false
	})
	return &held
}

// countStale counts the requests that reach a node stale says is the wrong one for them: a moved leader's
// old node, a moved coordinator's. It answers nothing; the broker does, as it would without it.
func countStale(c *kfake.Cluster, stale func(req kmsg.Request, node int32) bool) *atomic.Int64 {
	var n atomic.Int64
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		if stale(req, c.CurrentNode()) {
			n.Add(1)
		}
		return nil, nil, false
	})
	return &n
}

// notLeader says whether a produce or fetch names a partition that node does not lead.
func notLeader(c *kfake.Cluster) func(kmsg.Request, int32) bool {
	return func(req kmsg.Request, node int32) bool {
		wrong := func(topic string, p int32) bool { return topic != "" && c.LeaderFor(topic, p) != node }
		switch r := req.(type) {
		case *kmsg.ProduceRequest:
			for _, tp := range r.Topics {
				for _, p := range tp.Partitions {
					if wrong(tp.Topic, p.Partition) {
						return true
					}
				}
			}
		case *kmsg.FetchRequest:
			for _, tp := range r.Topics {
				for _, p := range tp.Partitions {
					if wrong(tp.Topic, p.Partition) {
						return true
					}
				}
			}
		}
		return false
	}
}

// notCoordinator says whether a request of group reaches a node that is not the group's coordinator.
func notCoordinator(c *kfake.Cluster, group string) func(kmsg.Request, int32) bool {
	return func(req kmsg.Request, node int32) bool {
		var g string
		switch r := req.(type) {
		case *kmsg.JoinGroupRequest:
			g = r.Group
		case *kmsg.SyncGroupRequest:
			g = r.Group
		case *kmsg.HeartbeatRequest:
			g = r.Group
		case *kmsg.OffsetCommitRequest:
			g = r.Group
		case *kmsg.OffsetFetchRequest:
			g = r.Group
			if len(r.Groups) > 0 {
				g = r.Groups[0].Group
			}
		case *kmsg.LeaveGroupRequest:
			g = r.Group
		}
		return g == group && c.CoordinatorFor(group) != node
	}
}

// struck fails t unless the fault struck a request of the run at least once: a row whose fault never
// met the run proves nothing. It runs beside the pipeline and reads the count once the run has ended,
// so that what the test reads afterwards is not counted.
func struck(t *testing.T, what string, n func() int64) func(ingested, stop <-chan struct{}) {
	return func(_, stop <-chan struct{}) {
		<-stop
		got := n()
		if got == 0 {
			t.Errorf("%s: none during the run; the fault never struck", what)
		}
		t.Logf("%s: %d during the run", what, got)
	}
}

// Every fault that may pass is ridden out: the run finishes with the records of a clean run, each
// stream-end marker with its stream's whole count, and the same stage counts.
func TestRetriableBrokerFaultsLeaveTheOutputOfACleanRun(t *testing.T) {
	clean := runWithFault(t, 20*time.Second, 0, nil)
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
			return struck(t, "faulted requests", func() int64 { return int64(h.Hits()) })
		}
	}
	drop := func(key kmsg.Key, n int) injector {
		return func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return struck(t, "connections closed", dropConnections(c, key, n).Load)
		}
	}
	delay := func(key kmsg.Key, d time.Duration, n int) injector {
		return func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return struck(t, "responses held "+d.String(), delayResponses(c, key, d, n).Load)
		}
	}
	for _, tc := range []struct {
		name   string
		slow   time.Duration // the stage's time over each batch
		inject injector
		// redelivers: the fault costs the group a rebalance mid-batch, so the stage may take whole batches
		// again (at least once); its output still holds each record once by id.
		redelivers bool
	}{
		{"produce: NOT_LEADER_FOR_PARTITION x5", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Err: kerr.NotLeaderForPartition, Count: 5}), false},
		{"produce: NOT_ENOUGH_REPLICAS x14, past kafka-go's 3 attempts", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Partitions: []int32{1}, Err: kerr.NotEnoughReplicas, Count: 14}), false},
		{"produce: REQUEST_TIMED_OUT x3 after appending", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tokens, Err: kerr.RequestTimedOut, Count: 3}), false},
		{"fetch: KAFKA_STORAGE_ERROR x5", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: items, Err: kerr.KafkaStorageError, Count: 5}), false},
		{"fetch: NOT_LEADER_FOR_PARTITION x5", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: items, Err: kerr.NotLeaderForPartition, Count: 5}), false},
		{"offset commit: COORDINATOR_LOAD_IN_PROGRESS x4", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Err: kerr.CoordinatorLoadInProgress, Count: 4}), false},
		{"offset commit: NOT_COORDINATOR x4", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Err: kerr.NotCoordinator, Count: 4}), false},
		{"offset fetch: COORDINATOR_NOT_AVAILABLE x3", 0, fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: group, Err: kerr.CoordinatorNotAvailable, Count: 3}), false},
		{"dropped connections: produce x5", 0, drop(kmsg.Produce, 5), false},
		{"dropped connections: fetch x5", 0, drop(kmsg.Fetch, 5), false},
		// Below kafka-go's 10 s write timeout: the produce is only late.
		{"delayed responses: produce 3s x3", 0, delay(kmsg.Produce, 3*time.Second, 3), false},
		// Past it: kafka-go gives the produce up and sends it again while the broker still appends the
		// first, so it may go twice.
		{"delayed responses: produce 12s x1, past kafka-go's write timeout", 0, delay(kmsg.Produce, 12*time.Second, 1), false},
		// Past the reader's MaxWait (1 s), which bounds a fetch's answer: the reader asks again.
		{"delayed responses: fetch 3s x3", 0, delay(kmsg.Fetch, 3*time.Second, 3), false},
		{"delayed responses: offset commit 3s x2", 0, delay(kmsg.OffsetCommit, 3*time.Second, 2), false},
		{"partition leaders moving between brokers", 0, func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			stale := countStale(c, notLeader(c))
			return func(_, stop <-chan struct{}) {
				defer struck(t, "requests to a moved leader", stale.Load)(nil, stop)
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
		}, false},
		// The stage takes 1 s a batch, so that the run lasts several rehashes past the group's join.
		{"group coordinator moving", 300 * time.Millisecond, func(t *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			stale := countStale(c, notCoordinator(c, group))
			return func(ingested, stop <-chan struct{}) {
				defer struck(t, "group requests to a moved coordinator", stale.Load)(nil, stop)
				rehashes := 0
				defer func() { t.Logf("%d rehashes during the run", rehashes) }()
				<-ingested
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
					c.RehashCoordinators()
					rehashes++
				}
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runWithFault(t, 20*time.Second, tc.slow, tc.inject)
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
			switch g, c := got.counts, clean.counts; {
			case !tc.redelivers && (g.Out != c.Out || g.Dead != c.Dead):
				t.Errorf("counts %+v, clean run %+v", g, c)
			case tc.redelivers && (g.Out < c.Out || g.Dead < c.Dead || g.Out*c.Dead != g.Dead*c.Out || g.In != g.Out+g.Dead):
				// Each batch holds 9 kept records to 1 rejected: batches taken again keep that ratio.
				t.Errorf("counts %+v: not whole batches of the clean run's %+v", g, c)
			}
			t.Logf("finished identical in %s (clean run %s), stage out %d dead %d", got.elapsed.Round(time.Millisecond), clean.elapsed.Round(time.Millisecond), got.counts.Out, got.counts.Dead)
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
		{"produce: every answer held 8s once the input is in, past the give-up", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return func(ingested, _ <-chan struct{}) {
				<-ingested // the stage's produce, not the ingest's: to its output or its dead letters
				delayResponses(c, kmsg.Produce, 8*time.Second, -1)
			}
		}, []string{"echo: produce to " + faultTopics.Prefix, " partition ", "(leader: broker ", "still failing after 6s: context deadline exceeded"}},
		{"every broker stays down once the input is in", func(_ *testing.T, c *kfake.Cluster, _ *Broker) func(_, _ <-chan struct{}) {
			return func(ingested, _ <-chan struct{}) {
				<-ingested
				c.Close()
			}
		}, []string{"still failing after 6s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var leader, coordinator string
			got := runWithFault(t, giveUp, 0, func(t *testing.T, c *kfake.Cluster, b *Broker) func(_, _ <-chan struct{}) {
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
