package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// A bad experiment flag is refused before any data is read or any model trained, with the flag named.
func TestExperimentRefusesBadFlags(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--recipe", "slow"}, `recipe "slow"`},
		{[]string{"--align-lr", "-0.1"}, "align-lr"},
		{[]string{"--align-lr", "NaN"}, "align-lr"},
		{[]string{"--qa-lr", "1.5"}, "qa-lr"},
		{[]string{"--qa-lr", "NaN"}, "qa-lr"},
		{[]string{"--seeds", ""}, "seeds"},
		{[]string{"--alphas", "2"}, "alphas"},
		{[]string{"--arms", "hybrid,adverserial"}, `unknown strategy "adverserial"`},
		{[]string{"--arms", ""}, "arms: none given"},
	} {
		args := append([]string{"--data", t.TempDir(), "--out", t.TempDir()}, tc.args...)
		err := cmdExperiment(context.Background(), args, log)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("xling experiment %s: error %v, want one naming %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
