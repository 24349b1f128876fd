package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// consume fetches n messages as a member of c, committing after each, and returns their values.
func consume(t *testing.T, ctx context.Context, c Consumer, n int) []string {
	t.Helper()
	var got []string
	for range n {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("fetch after %d messages: %v", len(got), err)
		}
		got = append(got, string(m.Value))
		if err := c.Commit(ctx, m.Generation, map[int]Offset{m.Partition: {Next: m.Offset + 1}}); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// waitFor polls cond until it holds or the context ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// retained starts an embedded broker that trims with the given settle time, and one topic of one partition
// holding the values 0..n-1, and a topic no group reads holding the same.
func retained(t *testing.T, ctx context.Context, settle time.Duration, n int) (*Broker, string, string) {
	t.Helper()
	const topic, unread = "ret.items", "ret.deadletter"
	b := embeddedWith(t, ctx, 1, topic, unread)
	b.unretain = b.retain(retention{Every: 20 * time.Millisecond, Settle: settle}, "") // stopped by b.Close
	var msgs []Message
	for i := range n {
		v := []byte(strconv.Itoa(i))
		msgs = append(msgs, Message{Topic: topic, Partition: 0, Value: v}, Message{Topic: unread, Partition: 0, Value: v})
	}
	if err := b.Produce(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	return b, topic, unread
}

func values(from, to int) string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return fmt.Sprint(out)
}

// join joins group and waits until the broker counts it among the topic's readers (kafka-go joins in the
// background).
func join(t *testing.T, ctx context.Context, b *Broker, group, topic string) Consumer {
	t.Helper()
	c, err := b.Join(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := b.Cluster().WaitGroupStable(ctx, group, 1); err != nil {
		t.Fatalf("group %s never became stable: %v", group, err)
	}
	return c
}

// The embedded broker drops what every group reading a topic has committed, and nothing else: a fast group
// that has read everything does not take away what a slow one has yet to read, a restarted member of the
// slow group resumes where it committed, and a topic no group reads is kept whole.
func TestRetentionDropsOnlyWhatEveryGroupCommitted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 40
	b, topic, unread := retained(t, ctx, 100*time.Millisecond, n)
	start := func() int64 { return b.Cluster().PartitionInfo(topic, 0).LogStartOffset }

	fast := join(t, ctx, b, "ret.fast", topic)
	slow := join(t, ctx, b, "ret.slow", topic)
	if got := fmt.Sprint(consume(t, ctx, fast, n)); got != values(0, n) {
		t.Fatalf("fast group read %s", got)
	}
	// The slow group has joined but committed nothing: nothing may go, however long we wait.
	time.Sleep(500 * time.Millisecond)
	if s := start(); s != 0 {
		t.Fatalf("log start %d while the slow group had committed nothing, want 0", s)
	}
	if got := fmt.Sprint(consume(t, ctx, slow, 15)); got != values(0, 15) {
		t.Fatalf("slow group read %s", got)
	}
	waitFor(t, ctx, "trim to the slow group's commit", func() bool { return start() == 15 })
	time.Sleep(200 * time.Millisecond) // several more passes: still no further than the slow group's commit
	if s := start(); s != 15 {
		t.Fatalf("log start %d, want 15 (the slow group's commit)", s)
	}
	// A new member of the slow group (the old one gone) resumes at its commit and reads the rest.
	if err := slow.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := b.Join(ctx, "ret.slow", topic)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := fmt.Sprint(consume(t, ctx, again, n-15)); got != values(15, n) {
		t.Fatalf("restarted slow group read %s, want %s", got, values(15, n))
	}
	waitFor(t, ctx, "trim to the end once both groups committed it", func() bool { return start() == n })
	if s := b.Cluster().PartitionInfo(unread, 0).LogStartOffset; s != 0 {
		t.Errorf("a topic no group reads was trimmed to %d", s)
	}
}

// A group that joins within the settle time of a topic's first reader still reads the topic from its start,
// even though the first reader had committed all of it.
func TestRetentionKeepsATopicWholeWhileGroupsJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 20
	b, topic, _ := retained(t, ctx, 3*time.Second, n)
	first := join(t, ctx, b, "ret.first", topic)
	if got := fmt.Sprint(consume(t, ctx, first, n)); got != values(0, n) {
		t.Fatalf("first group read %s", got)
	}
	// Many passes later (with a settle time of 1ms the late group would find the topic empty, and wait forever).
	time.Sleep(500 * time.Millisecond)
	late, err := b.Join(ctx, "ret.late", topic)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if got := fmt.Sprint(consume(t, ctx, late, n)); got != values(0, n) {
		t.Fatalf("late group read %s, want %s", got, values(0, n))
	}
	waitFor(t, ctx, "trim once both committed everything", func() bool { return b.Cluster().PartitionInfo(topic, 0).LogStartOffset == n })
}

func TestCommittedByAll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		commits []map[int32]int64 // per group, partition -> committed offset
		want    int64
		ok      bool
	}{
		{"no group", nil, 0, false},
		{"one group", []map[int32]int64{{0: 7}}, 7, true},
		{"the smallest commit", []map[int32]int64{{0: 7}, {0: 3}, {0: 9}}, 3, true},
		{"a group without a commit there", []map[int32]int64{{0: 7}, {1: 9}}, 0, false},
		{"a commit of -1", []map[int32]int64{{0: 7}, {0: -1}}, 0, false},
		{"a commit of 0", []map[int32]int64{{0: 0}}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var infos []*kfake.GroupInfo
			for _, c := range tc.commits {
				g := &kfake.GroupInfo{Commits: map[string]map[int32]kfake.GroupCommit{"t": {}}}
				for p, o := range c {
					g.Commits["t"][p] = kfake.GroupCommit{Offset: o}
				}
				infos = append(infos, g)
			}
			got, ok := committedByAll(infos, "t", 0)
			if got != tc.want || ok != tc.ok {
				t.Errorf("committedByAll = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// The broker Connect embeds keeps its topics in files under a temporary directory of its own, which Close
// removes.
func TestConnectSpillsTheEmbeddedBrokerToATemporaryDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Connect(ctx, BrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopics(ctx, 1, "spill"); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(ctx, Message{Topic: "spill", Partition: 0, Value: []byte("kept on disk")}); err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, "xling-broker-*"))
	if len(dirs) != 1 {
		t.Fatalf("broker directories %v, want one", dirs)
	}
	var bytes int64
	filepath.WalkDir(dirs[0], func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				bytes += fi.Size()
			}
		}
		return nil
	})
	if bytes == 0 {
		t.Errorf("nothing written under %s", dirs[0])
	}
	r, err := b.Read(ctx, "spill", 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Next(ctx)
	r.Close()
	if err != nil || string(m.Value) != "kept on disk" {
		t.Fatalf("read back %q, %v", m.Value, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dirs[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, %s: %v, want it gone", dirs[0], err)
	}
}
