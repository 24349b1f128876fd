package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessions expires the embedded broker's silent group members, which kfake misses in one case: it starts
// a member's session timer when its JoinGroup answer is delivered, and a member killed while it waited in
// JoinGroup may get no answer (kfake tries, and gives up at random on a closed connection), so no timer.
// If the group's leader then syncs, the group is stable with the dead member holding partitions that
// nobody reads, for good (a worker restarted after kill -9 and killed again within a second hung the
// crash tests this way). Kafka's coordinator expires such a member after its session timeout; sessions
// does the same from outside: it notes every request that carries a member ID, looks at each group's
// members, and makes a member that has been silent past its group's rebalance and session timeouts leave.
type sessions struct {
	c   *kfake.Cluster
	log *slog.Logger

	mu sync.Mutex
	// grace is, for each group, how long a member may be silent: a join waits up to the rebalance timeout
	// for its answer, and heartbeats then come within the session timeout (the longest any join asked).
	grace map[string]time.Duration
	last  map[string]map[string]time.Time // group -> member -> its last request, or when it was first listed
}

func newSessions(c *kfake.Cluster, log *slog.Logger) *sessions {
	s := &sessions{c: c, log: log, grace: map[string]time.Duration{}, last: map[string]map[string]time.Time{}}
	// kfake runs control functions for every request of a key; one that returns not handled leaves the
	// request to the broker.
	for _, key := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.OffsetCommit, kmsg.LeaveGroup} {
		c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			s.observe(req, time.Now())
			return nil, nil, false
		})
	}
	return s
}

func (s *sessions) observe(req kmsg.Request, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		grace := time.Duration(max(r.RebalanceTimeoutMillis, r.SessionTimeoutMillis)+r.SessionTimeoutMillis) * time.Millisecond
		s.grace[r.Group] = max(s.grace[r.Group], grace)
		s.touch(r.Group, r.MemberID, now)
	case *kmsg.SyncGroupRequest:
		s.touch(r.Group, r.MemberID, now)
	case *kmsg.HeartbeatRequest:
		s.touch(r.Group, r.MemberID, now)
	case *kmsg.OffsetCommitRequest:
		s.touch(r.Group, r.MemberID, now)
	case *kmsg.LeaveGroupRequest:
		delete(s.last[r.Group], r.MemberID)
		for _, m := range r.Members {
			delete(s.last[r.Group], m.MemberID)
		}
	}
}

func (s *sessions) touch(group, member string, now time.Time) {
	if member == "" { // a first join (its ID comes in the answer), or a commit from outside any group
		return
	}
	if _, ok := s.grace[group]; !ok {
		return // no JoinGroup seen: not a classic group (a KIP-848 one keeps its own sessions), no timeouts known
	}
	if s.last[group] == nil {
		s.last[group] = map[string]time.Time{}
	}
	s.last[group][member] = now
}

// listed records a group's members as the broker lists them: a member not heard from yet (one that died
// in its first join never sent its ID) is timed from now, and one no longer listed is forgotten.
func (s *sessions) listed(group string, members []string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was, is := s.last[group], make(map[string]time.Time, len(members))
	for _, m := range members {
		if t, ok := was[m]; ok {
			is[m] = t
		} else {
			is[m] = now
		}
	}
	s.last[group] = is
}

func (s *sessions) groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gs []string
	for g := range s.grace {
		gs = append(gs, g)
	}
	return gs
}

// silent removes and returns the members whose grace has run out at now.
func (s *sessions) silent(now time.Time) []groupMember {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []groupMember
	for g, members := range s.last {
		for m, last := range members {
			if now.Sub(last) > s.grace[g] {
				gone = append(gone, groupMember{g, m})
				delete(members, m)
			}
		}
	}
	return gone
}

type groupMember struct{ group, member string }

// expire lists every group's members as now and makes each silent one leave its group. A member the
// broker has removed meanwhile answers UNKNOWN_MEMBER_ID, which is what it should.
func (s *sessions) expire(ctx context.Context, client *kafka.Client, now time.Time) {
	for _, g := range s.groups() {
		var members []string
		if info := s.c.GroupInfo(g); info != nil {
			for _, m := range info.Members {
				members = append(members, m.MemberID)
			}
		}
		s.listed(g, members, now)
	}
	for _, m := range s.silent(now) {
		_, err := client.LeaveGroup(ctx, &kafka.LeaveGroupRequest{GroupID: m.group, Members: []kafka.LeaveGroupRequestMember{{ID: m.member}}})
		if s.log != nil {
			s.log.Info("expired a silent group member", "group", m.group, "member", m.member, "err", err)
		}
	}
}

// expireSessions expires s's silent members every second; the returned function stops it.
func (b *Broker) expireSessions(s *sessions) (stop func()) {
	client := &kafka.Client{Addr: kafka.TCP(b.Addrs...), Timeout: 10 * time.Second, Transport: b.transport}
	return every(time.Second, func(ctx context.Context, now time.Time) { s.expire(ctx, client, now) })
}
