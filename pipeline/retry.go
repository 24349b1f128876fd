package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// Retry is how xling rides out broker trouble where kafka-go does not: offset commits and fetches, admin
// requests, and produce requests once kafka-go's own quick attempts (3, 100 and 400 ms apart) are spent. Waits
// grow from Backoff, doubling up to MaxBackoff, each drawn from [d/2, d] so that workers that failed
// together do not retry together.
type Retry struct {
	Backoff    time.Duration `json:"backoff"`     // first wait; 0 means 100ms
	MaxBackoff time.Duration `json:"max_backoff"` // longest wait; 0 means 5s
	// GiveUp bounds how long a retriable error may persist before it ends the call that met it: a broker
	// that stays down ends the run in about this long, never hangs it. 0 means 2 minutes.
	GiveUp time.Duration `json:"give_up"`
	Seed   uint64        `json:"seed"` // seeds the jitter
}

// retrier is a Retry with its jitter source, shared by every goroutine of a Broker.
type retrier struct {
	Retry
	mu  sync.Mutex
	rng *rand.Rand
}

func newRetrier(r Retry) *retrier {
	if r.Backoff <= 0 {
		r.Backoff = 100 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 5 * time.Second
	}
	if r.GiveUp <= 0 {
		r.GiveUp = 2 * time.Minute
	}
	return &retrier{Retry: r, rng: rand.New(rand.NewPCG(r.Seed, 0x78_6c_69_6e_67))}
}

// backoff is the wait before retry attempt (0-based): capped exponential, with jitter.
func (r *retrier) backoff(attempt int) time.Duration {
	d := r.MaxBackoff
	if attempt < 30 {
		d = min(r.Backoff<<attempt, r.MaxBackoff)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return d/2 + time.Duration(r.rng.Int64N(int64(d/2)+1))
}

// do calls fn until it succeeds, fails for good, or has failed for GiveUp. fn gets a context that ends
// at the GiveUp deadline, so that one call cannot outlast the bound. onRetry hears of each retried error.
func (r *retrier) do(ctx context.Context, fn func(context.Context) error, onRetry func(error, time.Duration)) error {
	dctx, cancel := context.WithTimeout(ctx, r.GiveUp)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		err := fn(dctx)
		if err == nil || ctx.Err() != nil || !retriable(err) {
			return err
		}
		wait := r.backoff(attempt)
		if dl, _ := dctx.Deadline(); dctx.Err() != nil || time.Now().Add(wait).After(dl) {
			if dctx.Err() != nil && last != nil {
				err = last // the attempt cut short by the deadline says less than the one before it
			}
			return fmt.Errorf("still failing after %s: %w", r.GiveUp, err)
		}
		last = err
		onRetry(err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		}
	}
}

// retriable says whether err may pass if asked again: a Kafka error kafka-go calls temporary (a leader or
// coordinator moving, a request timing out), a dropped or refused connection, or a request that ran out
// of time. An error of many parts is retriable when every part is.
func retriable(err error) bool {
	if many, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range many.Unwrap() {
			if !retriable(e) {
				return false
			}
		}
		return true
	}
	var ke kafka.Error
	var ne net.Error
	switch {
	case denied(err) || errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, kafka.BrokerNotAvailable):
		// kafka-go does not call it temporary, but a broker restarting answers with it: seen on Kafka as an
		// offset fetch's answer during a rolling restart, which ended the run.
		return true
	case errors.As(err, &ke):
		return ke.Temporary()
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne)
}
