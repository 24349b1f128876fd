package progress

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestBar(t *testing.T) {
	tests := []struct {
		name        string
		done, total int64
		want        string
	}{
		{"total unknown", 400, 0, "encode 400 40/s"},
		{"under way: 600 left at 40/s", 400, 1000, "encode [########............] 400/1000 40/s ETA 15s"},
		{"done: no ETA", 1000, 1000, "encode [####################] 1000/1000 100/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Bar("encode", tc.done, tc.total, 10*time.Second); got != tc.want {
				t.Errorf("Bar = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDrawRedrawsInPlaceAndClears(t *testing.T) {
	var buf bytes.Buffer
	stop := Draw(context.Background(), &buf, 5*time.Millisecond, func(time.Duration) string { return "x" })
	time.Sleep(30 * time.Millisecond)
	stop()
	out := buf.String()
	if !strings.HasPrefix(out, "\r\033[Kx") || !strings.HasSuffix(out, "\r\033[K") || strings.Contains(out, "\n") {
		t.Errorf("output %q: want lines redrawn in place and cleared at the end, no newline", out)
	}
}
