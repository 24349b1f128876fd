package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// retention drops from the embedded broker the records that every consumer group reading their topic has
// committed, so a run holds in memory what is still to be read rather than everything ever produced.
//
// A topic's readers are the groups that have committed an offset on it or whose members subscribe to it or
// hold a partition of it.
// A partition is trimmed up to the smallest offset its readers have committed, and not at all while one of
// them has committed nothing there: no group ever loses a record it has not committed. What this cannot
// see is a group that has not joined yet, so a topic is left whole for Settle after its first reader
// appears (xling starts every stage of a process together; a stage started later against a shared broker,
// as with `xling broker`, is why Embedded alone does not trim). Topics that no group reads (the dead-letter
// topic; training sources, replayed from their start every epoch) are never trimmed.
type retention struct {
	// Every is the time between two passes; 0 means 500ms.
	Every time.Duration
	// Settle is how long a topic is kept whole after its first reader group appears; 0 means 5s.
	Settle time.Duration
}

func (r retention) withDefaults() retention {
	if r.Every <= 0 {
		r.Every = 500 * time.Millisecond
	}
	if r.Settle <= 0 {
		r.Settle = 5 * time.Second
	}
	return r
}

// segmentBytes is the embedded broker's segment size: kfake frees a partition's memory (or disk) a whole
// segment at a time (its default is 100 MiB), so a trimmed partition keeps at most about this much below
// its start.
const segmentBytes = 1 << 20

// retain starts trimming b's embedded cluster. The returned function stops it, waiting for the pass in
// progress (kfake's admin calls block on a closed cluster), then closes the cluster and removes dir, the
// cluster's data directory if it has one ("" if not).
func (b *Broker) retain(r retention, dir string) (stop func()) {
	r = r.withDefaults()
	t := trimmer{c: b.embedded, addrs: b.Addrs, log: b.log, seen: map[string]time.Time{}}
	stopTicking := every(r.Every, func(ctx context.Context, now time.Time) {
		if err := t.pass(ctx, now, r.Settle); err != nil && ctx.Err() == nil && t.log != nil {
			t.log.Debug("retention pass", "err", err)
		}
	})
	return func() {
		stopTicking()
		b.embedded.Close()
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
}

type trimmer struct {
	c     *kfake.Cluster
	addrs []string
	log   *slog.Logger
	seen  map[string]time.Time // when each topic's first reader group appeared
}

// pass trims every partition up to what all its readers have committed.
func (t *trimmer) pass(ctx context.Context, now time.Time, settle time.Duration) error {
	groups, err := t.groups(ctx)
	if err != nil {
		return err
	}
	readers := map[string][]*kfake.GroupInfo{}
	for _, g := range groups {
		info := t.c.GroupInfo(g)
		if info == nil {
			continue
		}
		topics := map[string]bool{}
		for topic := range info.Commits {
			topics[topic] = true
		}
		for _, m := range info.Members {
			// kfake cannot decode kafka-go's subscription metadata, but it does decode the assignment.
			for _, topic := range m.SubscribedTopics {
				topics[topic] = true
			}
			for topic := range m.Assignment {
				topics[topic] = true
			}
		}
		for topic := range topics {
			readers[topic] = append(readers[topic], info)
		}
	}
	var errs []error
	for topic, infos := range readers {
		first, ok := t.seen[topic]
		if !ok {
			t.seen[topic] = now
			continue
		}
		if now.Sub(first) < settle {
			continue
		}
		for _, p := range t.c.PartitionInfos(topic) {
			low, ok := committedByAll(infos, topic, p.Partition)
			if !ok || low <= p.LogStartOffset || low > p.HighWatermark {
				continue
			}
			if err := t.c.DeleteRecords(topic, p.Partition, low); err != nil {
				errs = append(errs, fmt.Errorf("delete %s/%d below %d: %w", topic, p.Partition, low, err))
			}
		}
	}
	return errors.Join(errs...)
}

// committedByAll is the smallest offset every group has committed on a partition; false if one has none.
func committedByAll(infos []*kfake.GroupInfo, topic string, partition int32) (int64, bool) {
	low := int64(-1)
	for _, g := range infos {
		c, ok := g.Commits[topic][partition]
		if !ok || c.Offset < 0 {
			return 0, false
		}
		if low < 0 || c.Offset < low {
			low = c.Offset
		}
	}
	if low < 0 {
		return 0, false
	}
	return low, true
}

// groups lists the cluster's consumer groups: each broker lists those it coordinates.
func (t *trimmer) groups(ctx context.Context) ([]string, error) {
	client := &kafka.Client{Timeout: 5 * time.Second}
	var names []string
	for _, a := range t.addrs {
		resp, err := client.ListGroups(ctx, &kafka.ListGroupsRequest{Addr: kafka.TCP(a)})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return nil, fmt.Errorf("list groups on %s: %w", a, err)
		}
		for _, g := range resp.Groups {
			names = append(names, g.GroupID)
		}
	}
	return names, nil
}

// every runs pass on a goroutine of its own every d, until the returned function, which waits for the pass
// in progress (kfake's admin calls block on a closed cluster, so the embedded broker's passes must end
// before it closes).
func every(d time.Duration, pass func(ctx context.Context, now time.Time)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				pass(ctx, now)
			}
		}
	}()
	return func() { cancel(); <-done }
}
