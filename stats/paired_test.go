package stats

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"xling/internal/testenv"
)

func TestPairedRandomizationHandWorked(t *testing.T) {
	tests := []struct {
		name  string
		a, b  []float64
		wantP float64
		mean  float64
	}{
		// Differences +1, +1, +1: of the 8 sign assignments only +++ and --- reach |sum| 3: p = 2/8.
		{"all better", []float64{2, 2, 2}, []float64{1, 1, 1}, 0.25, 1},
		// Differences +1, -1: sums are 0 (twice), +2, -2; |observed| = 0 so every assignment counts: p = 1.
		{"cancelling", []float64{1, 0}, []float64{0, 1}, 1, 0},
		// Differences +2, +1 (a zero difference is dropped): sums 3, 1, -1, -3; |sum| >= 3 twice: p = 2/4.
		{"zero dropped", []float64{3, 1, 5}, []float64{1, 0, 5}, 0.5, 1},
		{"identical", []float64{1, 2}, []float64{1, 2}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mean, p, err := PairedRandomization(tc.a, tc.b, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !testenv.Close(p, tc.wantP, 1e-15) || !testenv.Close(mean, tc.mean, 1e-15) {
				t.Errorf("mean %v p %v, want mean %v p %v", mean, p, tc.mean, tc.wantP)
			}
		})
	}
}

func TestPairedRandomizationExactMatchesPython(t *testing.T) {
	py := testenv.RequirePython(t)
	r := rand.New(rand.NewPCG(3, 4))
	var cases [][2][]float64
	for range 40 {
		n := 1 + r.IntN(12)
		a, b := make([]float64, n), make([]float64, n)
		for i := range a {
			a[i] = float64(r.IntN(5)) / 4 // coarse values: ties and zero differences happen
			b[i] = float64(r.IntN(5)) / 4
		}
		cases = append(cases, [2][]float64{a, b})
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(py, "testdata/signflip.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		_, p, err := PairedRandomization(c[0], c[1], 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !testenv.Close(p, want[i], 1e-12) {
			t.Errorf("case %d %v: p = %v, Python's exact test %v", i, c, p, want[i])
		}
	}
}

func TestPairedRandomizationMonteCarloApproachesExact(t *testing.T) {
	// 21 pairs: over the exact limit. Differences 1..21 alternate in sign except a bias toward +.
	a, b := make([]float64, 21), make([]float64, 21)
	for i := range a {
		a[i] = float64(i + 1)
		if i%3 == 0 {
			a[i] = -a[i]
		}
	}
	// The exact p-value by enumerating 2^21 assignments here, in the test, independently of the code path.
	d := a
	obs := math.Abs(sumOf(d))
	extreme := 0
	for mask := 0; mask < 1<<21; mask++ {
		s := 0.0
		for i, x := range d {
			if mask&(1<<i) != 0 {
				s -= x
			} else {
				s += x
			}
		}
		if math.Abs(s) >= obs-1e-9 {
			extreme++
		}
	}
	exact := float64(extreme) / float64(1<<21)
	_, p, err := PairedRandomization(a, b, 200000, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Binomial standard error at 200k rounds is below 0.0012 for any p; allow 5 of them.
	if !testenv.Close(p, exact, 0.006) {
		t.Errorf("Monte Carlo p = %v, exact %v", p, exact)
	}
}

func TestPairedRandomizationRejectsBadInput(t *testing.T) {
	if _, _, err := PairedRandomization([]float64{1}, []float64{1, 2}, 10, 1); err == nil {
		t.Error("unequal lengths accepted")
	}
	if _, _, err := PairedRandomization(nil, nil, 10, 1); err == nil {
		t.Error("empty samples accepted")
	}
	if _, _, err := PairedRandomization([]float64{math.NaN()}, []float64{1}, 10, 1); err == nil {
		t.Error("NaN accepted")
	}
}
