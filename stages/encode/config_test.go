package encode

import (
	"context"
	"strings"
	"testing"

	"xling/domain"
	"xling/schemas"
)

// A negative batching bound is refused, naming the field, before the model is called; zero is the default.
func TestEmbedChecksItsConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "": embeds
	}{
		{"defaults", Config{Model: "m"}, ""},
		{"a negative token budget", Config{TokenBudget: -1}, "TokenBudget is -1"},
		{"negative rows", Config{MaxRows: -8}, "MaxRows is -8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emb := &sumLen{}
			rows := []schemas.Record{tok("d", "en", domain.Query, "en/q/1", 1, 2)}
			err := Embed(context.Background(), emb, tc.cfg, rows)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Embed: %v", err)
			case tc.want == "" && (emb.calls != 1 || len(rows[0].Vector) != 2):
				t.Fatalf("%d calls, vector %v", emb.calls, rows[0].Vector)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || emb.calls != 0):
				t.Fatalf("Embed = %v after %d model calls, want an error containing %q and none", err, emb.calls, tc.want)
			}
		})
	}
}
