package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Waits double from Backoff up to MaxBackoff, each drawn from [d/2, d]; one seed gives one sequence.
func TestBackoffIsCappedExponentialWithSeededJitter(t *testing.T) {
	cfg := Retry{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, Seed: 7}
	ms := time.Millisecond
	bounds := [][2]time.Duration{{50 * ms, 100 * ms}, {100 * ms, 200 * ms}, {200 * ms, 400 * ms}, {400 * ms, 800 * ms}, {500 * ms, time.Second}, {500 * ms, time.Second}, {500 * ms, time.Second}}
	waits := func(r Retry) []time.Duration {
		rt := newRetrier(r)
		var out []time.Duration
		for attempt := range 64 {
			out = append(out, rt.backoff(attempt))
		}
		return out
	}
	a := waits(cfg)
	for i, d := range a {
		b := bounds[min(i, len(bounds)-1)]
		if d < b[0] || d > b[1] {
			t.Errorf("wait %d = %s, want within [%s, %s]", i, d, b[0], b[1])
		}
	}
	if b := waits(cfg); !slices.Equal(a, b) {
		t.Errorf("seed 7 gave %v, then %v", a, b)
	}
	other := cfg
	other.Seed = 8
	if b := waits(other); slices.Equal(a, b) {
		t.Errorf("seeds 7 and 8 gave the same waits %v", a)
	}
}

func TestRetriableSaysWhatMayPass(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kafka.NotLeaderForPartition, true},
		{kafka.RequestTimedOut, true},
		{kafka.NotCoordinatorForGroup, true},
		{kafka.GroupLoadInProgress, true},
		{fmt.Errorf("produce: %w", kafka.NotEnoughReplicas), true},
		{io.ErrUnexpectedEOF, true},
		{syscall.ECONNREFUSED, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNRESET}, true},
		{context.DeadlineExceeded, true},
		{errors.Join(kafka.NotLeaderForPartition, io.EOF), true},
		{kafka.Unknown, false},
		{kafka.MessageSizeTooLarge, false},
		{kafka.TopicAuthorizationFailed, false},
		{kafka.SASLAuthenticationFailed, false},
		{context.Canceled, false},
		{errors.New("a bug"), false},
		{errors.Join(kafka.NotLeaderForPartition, kafka.Unknown), false},
		{errors.Join(io.EOF, kafka.GroupAuthorizationFailed), false},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, false},
	} {
		if got := retriable(tc.err); got != tc.want {
			t.Errorf("retriable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// do stops at once on an error that cannot pass, retries one that may, and gives up on it by GiveUp.
func TestDoRetriesWithinItsBound(t *testing.T) {
	rt := newRetrier(Retry{Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, GiveUp: 300 * time.Millisecond, Seed: 1})
	quiet := func(error, time.Duration) {}
	calls := 0
	err := rt.do(context.Background(), func(context.Context) error { calls++; return kafka.Unknown }, quiet)
	if !errors.Is(err, kafka.Unknown) || calls != 1 {
		t.Errorf("a lasting error: %v after %d calls, want it after 1", err, calls)
	}
	calls = 0
	err = rt.do(context.Background(), func(context.Context) error {
		if calls++; calls < 4 {
			return kafka.NotLeaderForPartition
		}
		return nil
	}, quiet)
	if err != nil || calls != 4 {
		t.Errorf("an error that passes: %v after %d calls, want nil after 4", err, calls)
	}
	start := time.Now()
	err = rt.do(context.Background(), func(context.Context) error { return kafka.NotLeaderForPartition }, quiet)
	if !errors.Is(err, kafka.NotLeaderForPartition) || time.Since(start) > time.Second {
		t.Errorf("an error that never passes: %v after %s, want it by 300ms", err, time.Since(start))
	}
}
