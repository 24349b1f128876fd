package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"xling/experiment"
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

// --arms keeps the named strategies with their default settings, in the default order.
func TestPickArmsKeepsDefaultOrder(t *testing.T) {
	all := experiment.Default().Strategies
	got, err := pickArms(all, []string{"adversarial", "hybrid", "adversarial"})
	if err != nil {
		t.Fatal(err)
	}
	if names := armNames(got); !slices.Equal(names, []string{"hybrid", "adversarial"}) {
		t.Fatalf("arms %v, want [hybrid adversarial]", names)
	}
	if !got[1].Balanced || got[1].Lambda != -1 || got[1].Batching != "mono" {
		t.Errorf("adversarial arm %+v lost its default settings", got[1])
	}
}
