package pipeline

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka expires a group member that stops talking after its session timeout, wherever it was. kfake
// starts the timer only when a JoinGroup answer is delivered, and answers a member whose connection has
// closed, or not, at random; a member killed while it waited in JoinGroup could stay in the group for
// good, holding partitions nobody read. The embedded broker must expire it, and hand its partitions back
// to the members that are alive. Six groups go through this at once: without the expiry, the test fails
// unless all six dead members were answered (1 chance in 64).
func TestAMemberKilledWhileJoiningLeavesItsPartitions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const topic, partitions = "t", 2
	b := embeddedWith(t, ctx, partitions, topic)
	errs := make(chan error, 6)
	for i := range cap(errs) {
		go func() { errs <- oneDies(ctx, b, fmt.Sprint("g", i), topic, partitions) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// oneDies has a member hold topic in group, a second join and die, and waits for the first to hold
// every partition again.
func oneDies(ctx context.Context, b *Broker, group, topic string, partitions int) error {
	alive, err := b.Join(ctx, group, topic)
	if err != nil {
		return err
	}
	defer alive.Close()
	held := func() int { p, _ := alive.Assigned(); return len(p) }
	waitFor := func(what string, ok func() bool) error {
		for !ok() {
			select {
			case <-ctx.Done():
				return fmt.Errorf("group %s: %s: the living member holds %d of %d partitions", group, what, held(), partitions)
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}
	if err := waitFor("the first member never got the partitions", func() bool { return held() == partitions }); err != nil {
		return err
	}
	if err := joinAndDie(b.Addrs[0], group, topic); err != nil {
		return fmt.Errorf("group %s: %w", group, err)
	}
	// The living member rejoins and, as leader, hands a partition to the dead one; the broker must expire
	// it (after its rebalance and session timeouts) and give the partition back.
	if err := waitFor("the dead member never entered a generation", func() bool { return held() < partitions }); err != nil {
		return err
	}
	return waitFor("the dead member's partition never came back", func() bool { return held() == partitions })
}

// joinAndDie joins group as kafka-go's consumer group does (JoinGroup v2, no member ID yet: the broker
// makes it a member at once) and drops the connection while the join waits for the group's rebalance, as
// a worker killed then would. It never learns its member ID.
func joinAndDie(addr, group, topic string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(2)
	join.Group, join.ProtocolType = group, "consumer"
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 6000, 10000
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	for _, name := range []string{"range", "roundrobin"} { // kafka-go's balancers
		join.Protocols = append(join.Protocols, kmsg.JoinGroupRequestProtocol{Name: name, Metadata: meta.AppendTo(nil)})
	}
	_, err = conn.Write(kmsg.NewRequestFormatter().AppendRequest(nil, join, 1))
	return err
}

// A member is silent once it has said nothing for its group's rebalance timeout (the longest a join waits)
// and then its session timeout. Any request carrying its ID resets the clock; one the broker lists but
// that never sent its ID (it died in its first join) is timed from when it was first listed; one that
// left, or is no longer listed, is forgotten.
func TestSessionsCallAMemberSilentPastItsTimeouts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	join := func(member string) kmsg.Request {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.MemberID, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = "g", member, 6000, 10000
		return r
	}
	heartbeat := func(member string) kmsg.Request {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.MemberID = "g", member
		return r
	}
	leave := func(member string) kmsg.Request {
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Group, r.Members = "g", []kmsg.LeaveGroupRequestMember{{MemberID: member}}
		return r
	}
	type event struct {
		at     time.Duration
		req    kmsg.Request // a request seen, or
		listed []string     // the group's members as the broker lists them
	}
	const grace = 16 * time.Second
	for _, tc := range []struct {
		name   string
		events []event
		at     time.Duration
		silent bool
	}{
		{"within its rebalance and session timeouts", []event{{at: 0, req: join("m")}}, grace, false},
		{"past them", []event{{at: 0, req: join("m")}}, grace + 1, true},
		{"a heartbeat resets the clock", []event{{at: 0, req: join("m")}, {at: 5 * time.Second, req: heartbeat("m")}}, grace + 5*time.Second, false},
		{"a listed member that never sent its ID is timed from its listing",
			[]event{{at: 0, req: join("")}, {at: 2 * time.Second, listed: []string{"m"}}}, grace + 2*time.Second, false},
		{"and is silent past its timeouts from then",
			[]event{{at: 0, req: join("")}, {at: 2 * time.Second, listed: []string{"m"}}, {at: 3 * time.Second, listed: []string{"m"}}}, grace + 2*time.Second + 1, true},
		{"a member that left is forgotten", []event{{at: 0, req: join("m")}, {at: time.Second, req: leave("m")}}, time.Hour, false},
		{"a member no longer listed is forgotten", []event{{at: 0, req: join("m")}, {at: time.Second, listed: nil}}, time.Hour, false},
		{"a member of a group never joined by JoinGroup is not watched", []event{{at: 0, req: heartbeat("m")}}, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &sessions{grace: map[string]time.Duration{}, last: map[string]map[string]time.Time{}}
			for _, e := range tc.events {
				if e.req != nil {
					s.observe(e.req, t0.Add(e.at))
				} else {
					s.listed("g", e.listed, t0.Add(e.at))
				}
			}
			got := s.silent(t0.Add(tc.at))
			want := []groupMember(nil)
			if tc.silent {
				want = []groupMember{{"g", "m"}}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("silent = %v, want %v", got, want)
			}
			if again := s.silent(t0.Add(tc.at)); len(again) != 0 {
				t.Fatalf("silent twice: %v", again)
			}
		})
	}
}
