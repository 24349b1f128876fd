package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// forgetful assigns nothing to anyone in its first rebalances, then as kafka-go's range balancer: the
// stable generation without owners that a killed coordinator once left a group in on Apache Kafka.
type forgetful struct {
	mu      sync.Mutex
	forget  int // rebalances still to leave empty
	assigns int
}

func (f *forgetful) ProtocolName() string { return "range" }

func (f *forgetful) UserData() ([]byte, error) { return nil, nil }

func (f *forgetful) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assigns++
	if f.forget > 0 {
		f.forget--
		return kafka.GroupMemberAssignments{}
	}
	return kafka.RangeGroupBalancer{}.AssignGroups(members, partitions)
}

// TestAStableGroupWithoutOwnersRejoins checks that a member whose stable generation leaves some of its
// topic's partitions without an owner rejoins until every partition has one, and then reads them all;
// with owners from the start it never rejoins.
func TestAStableGroupWithoutOwnersRejoins(t *testing.T) {
	for _, tc := range []struct {
		name        string
		forget      int
		wantAssigns int
	}{
		{"owners from the start", 0, 1},
		{"no owners in the first generation", 1, 2},
		{"no owners in the first two", 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Embedded("127.0.0.1:0", 1)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			b.retry = newRetrier(Retry{})
			bal := &forgetful{forget: tc.forget}
			b.balancers, b.orphanEvery = []kafka.GroupBalancer{bal}, 100*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := b.CreateTopics(ctx, 2, "orphans.in"); err != nil {
				t.Fatal(err)
			}
			for p := range 2 {
				if err := b.Produce(ctx, Message{Topic: "orphans.in", Partition: p, Value: []byte{byte(p)}}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := b.Join(ctx, "orphans.g", "orphans.in")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			seen := map[int]bool{}
			for len(seen) < 2 {
				m, err := c.Fetch(ctx)
				if err != nil {
					t.Fatalf("fetch after %d assignments: %v", bal.assigns, err)
				}
				seen[m.Partition] = true
			}
			time.Sleep(500 * time.Millisecond) // long enough for a needless rejoin to show
			bal.mu.Lock()
			defer bal.mu.Unlock()
			if bal.assigns != tc.wantAssigns {
				t.Errorf("%d assignments, want %d", bal.assigns, tc.wantAssigns)
			}
		})
	}
}
