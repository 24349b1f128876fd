package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A bad config is refused before any connection is tried, with an error naming the field.
func TestOpenRefusesABadConfigNamingTheField(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no DSN", Config{}, "DSN is empty"},
		{"a negative retry bound", Config{DSN: "postgres://x", RetryFor: -time.Second}, "RetryFor is -1s"},
		{"a negative backoff", Config{DSN: "postgres://x", RetryMax: -time.Millisecond}, "RetryMax is -1ms"},
		{"a negative attempt timeout", Config{DSN: "postgres://x", AttemptTimeout: -1}, "AttemptTimeout is -1ns"},
		{"negative batch rows", Config{DSN: "postgres://x", BatchRows: -3}, "BatchRows is -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, err := Open(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want the same error", err)
			}
		})
	}
}

// Zero fields are valid, and take the defaults their comments promise.
func TestZeroFieldsTakeTheirDefaults(t *testing.T) {
	c := Config{DSN: "postgres://x"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := c.withDefaults()
	if got.Table != "embeddings" || got.BatchRows != 4096 || got.RetryFor != time.Minute || got.RetryBase != 100*time.Millisecond ||
		got.RetryMax != 5*time.Second || got.AttemptTimeout != 30*time.Second || got.Log == nil {
		t.Fatalf("defaults %+v", got)
	}
}
