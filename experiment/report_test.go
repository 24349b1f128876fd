package experiment

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The recorded command pastes back into a shell as the same arguments; /bin/sh is the judge.
func TestShellJoinRoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"plain", []string{"experiment", "--seeds", "1,2,3", "--out", "out/exp"}, "experiment --seeds 1,2,3 --out out/exp"},
		{"empty", []string{"--alphas", ""}, "--alphas ''"},
		{"space", []string{"--data", "my data"}, "--data 'my data'"},
		{"quote", []string{"it's"}, `'it'\''s'`},
		{"glob and dollar", []string{"*", "$HOME"}, `'*' '$HOME'`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := shellJoin(c.args)
			if got != c.want {
				t.Errorf("shellJoin(%q) = %s, want %s", c.args, got, c.want)
			}
			out, err := exec.Command(sh, "-c", "set -- "+got+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
			if err != nil {
				t.Fatal(err)
			}
			back := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			if !slices.Equal(back, c.args) {
				t.Errorf("sh read %q back as %q", got, back)
			}
		})
	}
}

// The arm pairs tested: hybrid against every arm, and the discriminator's two effects only where both of
// their arms ran.
func TestComparisonsFollowTheArms(t *testing.T) {
	all := Default().Strategies
	pick := func(names ...string) []Strategy {
		picked, err := SelectStrategies(all, names)
		if err != nil {
			t.Fatal(err)
		}
		return picked
	}
	for _, tc := range []struct {
		name string
		arms []Strategy
		want [][2]string
	}{
		{"all six", all, [][2]string{
			{"hybrid", "untrained"}, {"hybrid", "mono"}, {"hybrid", "cross"}, {"hybrid", "adversarial"},
			{"hybrid", "hybrid+adversarial"}, {"hybrid", "adversarial-paper"},
			{"hybrid+adversarial", "adversarial"}, {"adversarial", "mono"},
		}},
		{"no mono", pick("hybrid", "adversarial"), [][2]string{{"hybrid", "untrained"}, {"hybrid", "adversarial"}}},
		{"mono, hybrid, adversarial", pick("mono", "hybrid", "adversarial"), [][2]string{
			{"hybrid", "untrained"}, {"hybrid", "mono"}, {"hybrid", "adversarial"}, {"adversarial", "mono"},
		}},
	} {
		if got := comparisons(Config{Strategies: tc.arms}); !slices.Equal(got, tc.want) {
			t.Errorf("%s: pairs %v, want %v", tc.name, got, tc.want)
		}
	}
}

// SelectStrategies keeps the named strategies with their default settings, in the default order.
func TestSelectStrategiesKeepsDefaultOrder(t *testing.T) {
	got, err := SelectStrategies(Default().Strategies, []string{"adversarial", "hybrid", "adversarial"})
	if err != nil {
		t.Fatal(err)
	}
	if names := StrategyNames(got); !slices.Equal(names, []string{"hybrid", "adversarial"}) {
		t.Fatalf("arms %v, want [hybrid adversarial]", names)
	}
	if !got[1].Balanced || got[1].Lambda != -1 || got[1].Batching != "mono" {
		t.Errorf("adversarial arm %+v lost its default settings", got[1])
	}
}
