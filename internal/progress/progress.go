// Package progress draws a progress line on a terminal: what has been done of a known total, the rate and
// the time left.
package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar formats one stage's progress: "label [#####...] done/total rate/s ETA 12s" when total is known (> 0),
// "label done rate/s" otherwise.
func Bar(label string, done, total int64, elapsed time.Duration) string {
	rate := float64(done) / elapsed.Seconds()
	if total <= 0 {
		return fmt.Sprintf("%s %d %.0f/s", label, done, rate)
	}
	filled := int(20 * min(1, float64(done)/float64(total)))
	s := fmt.Sprintf("%s [%s%s] %d/%d %.0f/s", label, strings.Repeat("#", filled), strings.Repeat(".", 20-filled), done, total, rate)
	if rate > 0 && done < total {
		s += fmt.Sprintf(" ETA %s", (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second))
	}
	return s
}

// Every calls fn with the time since it started, every interval, until the returned stop is called; stop
// returns once fn has run for the last time, and calls done, if not nil, then.
func Every(ctx context.Context, every time.Duration, fn func(elapsed time.Duration), done func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				if done != nil {
					done()
				}
				return
			case <-t.C:
				fn(time.Since(start))
			}
		}
	}()
	return func() { cancel(); <-finished }
}

// Draw redraws line() on term every interval, in place, until the returned stop is called; stop clears it.
func Draw(ctx context.Context, term io.Writer, every time.Duration, line func(elapsed time.Duration) string) (stop func()) {
	return Every(ctx, every, func(elapsed time.Duration) { fmt.Fprint(term, "\r\033[K"+line(elapsed)) },
		func() { fmt.Fprint(term, "\r\033[K") })
}
