package batching

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var testLangs = []string{"ar", "de", "en", "es", "hi", "ru", "th", "tr", "zh"}

// synthGroups makes n groups of source name, each in k distinct languages of langs drawn with seed.
func synthGroups(name string, n, k int, langs []string, seed uint64) []Group {
	r := rand.New(rand.NewPCG(seed, 0))
	gs := make([]Group, n)
	for i := range gs {
		gs[i] = Group{ID: fmt.Sprintf("%s:%d", name, i+1), Source: name}
		for _, j := range r.Perm(len(langs))[:k] {
			l := langs[j]
			gs[i].Texts = append(gs[i].Texts, Text{Lang: l, Query: "q " + l + gs[i].ID, Passage: "p " + l + gs[i].ID})
		}
	}
	return gs
}

func mustHybrid(t testing.TB, alpha float64) Strategy {
	t.Helper()
	s, err := StrategyHybrid(alpha)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func collect(t testing.TB, cfg Config, sources ...Source) ([]Batch, Stats) {
	t.Helper()
	var bs []Batch
	st, err := Sample(context.Background(), cfg, sources, func(b Batch) error {
		bs = append(bs, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bs, st
}

// checkBatch checks the invariants every batch keeps, whatever the strategy.
func checkBatch(t *testing.T, b Batch, size int) {
	t.Helper()
	if len(b.Pairs) == 0 || len(b.Pairs) > size {
		t.Fatalf("batch %d: %d pairs, want 1..%d", b.ID, len(b.Pairs), size)
	}
	groups := map[string]bool{}
	for _, p := range b.Pairs {
		k := p.Source + "\x00" + p.Group
		if groups[k] {
			t.Fatalf("batch %d: group %s twice", b.ID, p.Group)
		}
		groups[k] = true
		// synthGroups' texts name their language and group, so a pair shows where its text came from.
		if p.Query != "q "+p.QLang+p.Group || p.Passage != "p "+p.PLang+p.Group {
			t.Fatalf("batch %d: pair %+v does not hold its group's texts", b.ID, p)
		}
		switch b.Kind {
		case Mono:
			if p.QLang != p.PLang || p.QLang != b.Pairs[0].QLang {
				t.Fatalf("mono batch %d: pair %s-%s, batch language %s", b.ID, p.QLang, p.PLang, b.Pairs[0].QLang)
			}
		case Cross:
			if p.QLang == p.PLang {
				t.Fatalf("cross batch %d: pair %s-%s", b.ID, p.QLang, p.PLang)
			}
		default:
			t.Fatalf("batch %d: kind %q", b.ID, b.Kind)
		}
	}
}

func TestSampleInvariantsPerStrategy(t *testing.T) {
	a := synthGroups("a", 3000, 2, testLangs, 1) // like tatoeba: two languages a group
	b := synthGroups("b", 1000, 9, testLangs, 2) // like flores: all languages
	for _, strat := range []Strategy{StrategyMono(), StrategyCross(), mustHybrid(t, 0.5), mustHybrid(t, 0.3)} {
		t.Run(strat.String(), func(t *testing.T) {
			cfg := Config{Strategy: strat, BatchSize: 32, Buffer: 512, Seed: 7, Epochs: 2}
			bs, st := collect(t, cfg, SliceSource("a", a), SliceSource("b", b))
			perEpoch := map[string]int{}
			for i, bt := range bs {
				if bt.ID != uint64(i) {
					t.Fatalf("batch %d has ID %d", i, bt.ID)
				}
				checkBatch(t, bt, cfg.BatchSize)
				for _, p := range bt.Pairs {
					perEpoch[p.Source+"/"+p.Group]++
				}
			}
			// Every group once per epoch, whatever the strategy.
			if len(perEpoch) != 4000 {
				t.Fatalf("%d distinct groups consumed, want 4000", len(perEpoch))
			}
			for g, n := range perEpoch {
				if n != 2 {
					t.Fatalf("group %s consumed %d times in 2 epochs", g, n)
				}
			}
			if st.Pairs != 8000 || st.Batches != len(bs) || st.Mono+st.Cross != st.Batches {
				t.Fatalf("stats %+v for %d batches", st, len(bs))
			}
			if st.Short > st.Batches/10 {
				t.Errorf("%d of %d batches short", st.Short, st.Batches)
			}
		})
	}
}

// binomialOK says whether k successes in n trials fit probability p within 4 standard deviations.
func binomialOK(k, n int, p float64) bool {
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-float64(n)*p) <= 4*sd
}

func TestHybridAlphaProportion(t *testing.T) {
	gs := synthGroups("a", 20000, 3, testLangs, 3)
	for _, alpha := range []float64{0, 0.3, 0.5, 0.8, 1} {
		cfg := Config{Strategy: mustHybrid(t, alpha), BatchSize: 10, Buffer: 400, Seed: 11}
		bs, st := collect(t, cfg, SliceSource("a", gs))
		mono := 0
		for _, b := range bs {
			if b.Kind == Mono {
				mono++
			}
		}
		if mono != st.Mono || !binomialOK(mono, len(bs), alpha) {
			t.Errorf("alpha %v: %d mono of %d batches", alpha, mono, len(bs))
		}
	}
}

// Mono batches draw their language uniformly among the languages with a full batch in the buffer; cross
// pairs draw an ordered pair uniformly among the group's languages.
func TestLanguageDrawsAreUniform(t *testing.T) {
	langs := []string{"de", "en", "es"}
	gs := synthGroups("a", 30000, 3, langs, 4)
	bs, _ := collect(t, Config{Strategy: StrategyMono(), BatchSize: 10, Buffer: 100, Seed: 5}, SliceSource("a", gs))
	perLang := map[string]int{}
	for _, b := range bs {
		perLang[b.Pairs[0].QLang]++
	}
	for _, l := range langs {
		if !binomialOK(perLang[l], len(bs), 1.0/3) {
			t.Errorf("mono: %s drawn for %d of %d batches", l, perLang[l], len(bs))
		}
	}
	bs, _ = collect(t, Config{Strategy: StrategyCross(), BatchSize: 10, Buffer: 100, Seed: 5}, SliceSource("a", gs))
	perPair := map[string]int{}
	n := 0
	for _, b := range bs {
		for _, p := range b.Pairs {
			perPair[p.QLang+"-"+p.PLang]++
			n++
		}
	}
	if len(perPair) != 6 {
		t.Fatalf("ordered pairs %v, want the 6 of de en es", perPair)
	}
	for pair, k := range perPair {
		if !binomialOK(k, n, 1.0/6) {
			t.Errorf("cross: %s for %d of %d pairs", pair, k, n)
		}
	}
}

func TestSourcesMixInProportionToSize(t *testing.T) {
	big := synthGroups("big", 6000, 2, testLangs, 5)
	small := synthGroups("small", 2000, 2, testLangs, 6)
	for _, counted := range []bool{false, true} {
		srcBig, srcSmall := SliceSource("big", big), SliceSource("small", small)
		if counted {
			srcBig.Size, srcSmall.Size = 0, 0
		}
		cfg := Config{Strategy: StrategyCross(), BatchSize: 20, Buffer: 200, Seed: 9}
		bs, _ := collect(t, cfg, srcBig, srcSmall)
		// Over each quarter of the run, the small source gives a quarter of the pairs.
		quarter := len(bs) / 4
		for q := range 4 {
			n, fromSmall := 0, 0
			for _, b := range bs[q*quarter : (q+1)*quarter] {
				for _, p := range b.Pairs {
					n++
					if p.Source == "small" {
						fromSmall++
					}
				}
			}
			if !binomialOK(fromSmall, n, 0.25) {
				t.Errorf("counted=%v quarter %d: %d of %d pairs from the small source, want about 1/4", counted, q, fromSmall, n)
			}
		}
	}
	// Sizes counted by the sampler mix exactly as sizes given by the caller.
	cfg := Config{Strategy: mustHybrid(t, 0.5), BatchSize: 20, Buffer: 200, Seed: 9}
	given, _ := collect(t, cfg, SliceSource("big", big), SliceSource("small", small))
	counted, _ := collect(t, cfg, Source{Name: "big", Groups: SliceSource("big", big).Groups}, Source{Name: "small", Groups: SliceSource("small", small).Groups})
	if !reflect.DeepEqual(given, counted) {
		t.Error("counted sizes give other batches than the same sizes given")
	}
}

func TestSampleIsDeterministicForASeed(t *testing.T) {
	a := synthGroups("a", 2000, 2, testLangs, 7)
	b := synthGroups("b", 500, 5, testLangs, 8)
	run := func(seed uint64) []Batch {
		cfg := Config{Strategy: mustHybrid(t, 0.5), BatchSize: 16, Buffer: 128, Seed: seed}
		bs, _ := collect(t, cfg, SliceSource("a", a), SliceSource("b", b))
		return bs
	}
	first := run(1)
	if !reflect.DeepEqual(first, run(1)) {
		t.Error("seed 1 twice gives other batches")
	}
	if reflect.DeepEqual(first, run(2)) {
		t.Error("seeds 1 and 2 give the same batches")
	}
}

// The stream into the buffer depends on the seed alone: with one seed, every strategy sees the groups
// in the same order, so the first Buffer groups in are the same ones, whichever the strategy.
func TestStrategiesShareTheStream(t *testing.T) {
	a := synthGroups("a", 1000, 2, testLangs, 9)
	b := synthGroups("b", 1000, 4, testLangs, 10)
	var orders [][]string
	for _, strat := range []Strategy{StrategyMono(), StrategyCross(), mustHybrid(t, 0.5)} {
		var order []string
		rec := func(src Source) Source {
			inner := src.Groups
			src.Groups = func(yield func(Group, error) bool) {
				for g, err := range inner {
					order = append(order, g.Source+"/"+g.ID)
					if !yield(g, err) {
						return
					}
				}
			}
			return src
		}
		collect(t, Config{Strategy: strat, BatchSize: 16, Buffer: 64, Seed: 3}, rec(SliceSource("a", a)), rec(SliceSource("b", b)))
		orders = append(orders, order)
	}
	for i := 1; i < len(orders); i++ {
		if !slices.Equal(orders[0], orders[i]) {
			t.Fatalf("strategy %d pulls groups in another order than strategy 0", i)
		}
	}
}

func TestBufferStaysBounded(t *testing.T) {
	gs := synthGroups("a", 5000, 3, testLangs, 11)
	pulled := 0
	src := SliceSource("a", gs)
	inner := src.Groups
	src.Groups = func(yield func(Group, error) bool) {
		for g, err := range inner {
			pulled++
			if !yield(g, err) {
				return
			}
		}
	}
	for _, strat := range []Strategy{StrategyMono(), StrategyCross(), mustHybrid(t, 0.5)} {
		pulled = 0
		consumed := 0
		cfg := Config{Strategy: strat, BatchSize: 25, Buffer: 300, Seed: 1}
		_, err := Sample(context.Background(), cfg, []Source{src}, func(b Batch) error {
			// Before this batch was taken, the buffer held the groups pulled and not yet consumed.
			if held := pulled - consumed; held > cfg.Buffer {
				return fmt.Errorf("batch %d: %d groups held, buffer %d", b.ID, held, cfg.Buffer)
			}
			consumed += len(b.Pairs)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", strat, err)
		}
	}
}

func TestMaxBatchesAndEpochs(t *testing.T) {
	gs := synthGroups("a", 100, 2, testLangs, 12)
	tests := []struct {
		name        string
		epochs, max int
		wantBatches int
		wantPairs   int
	}{
		{"one epoch", 0, 0, 10, 100},
		{"three epochs", 3, 0, 30, 300},
		{"limit within an epoch", 3, 4, 4, 40},
		{"limit past the epochs", 2, 50, 20, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Cross batches of 10 from 100 groups: every batch full, 10 an epoch.
			cfg := Config{Strategy: StrategyCross(), BatchSize: 10, Buffer: 40, Seed: 1, Epochs: tt.epochs, MaxBatches: tt.max}
			bs, st := collect(t, cfg, SliceSource("a", gs))
			if len(bs) != tt.wantBatches || st.Pairs != tt.wantPairs || st.Short != 0 {
				t.Errorf("%d batches, stats %+v; want %d batches, %d pairs", len(bs), st, tt.wantBatches, tt.wantPairs)
			}
		})
	}
}

func TestSampleRejectsBadInput(t *testing.T) {
	ok := synthGroups("a", 10, 2, testLangs, 13)
	one := Group{ID: "x:1", Source: "x", Texts: []Text{{Lang: "en", Query: "q", Passage: "p"}}}
	rep := Group{ID: "x:2", Source: "x", Texts: []Text{{Lang: "en"}, {Lang: "en"}}}
	tests := []struct {
		name    string
		cfg     Config
		sources []Source
		want    string
	}{
		{"no strategy", Config{BatchSize: 2, Buffer: 4}, []Source{SliceSource("a", ok)}, "Strategy is not set"},
		{"no batch size", Config{Strategy: StrategyCross(), Buffer: 4}, []Source{SliceSource("a", ok)}, "BatchSize is 0"},
		{"buffer below batch", Config{Strategy: StrategyCross(), BatchSize: 8, Buffer: 4}, []Source{SliceSource("a", ok)}, "Buffer is 4, smaller than BatchSize 8"},
		{"negative epochs", Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4, Epochs: -1}, []Source{SliceSource("a", ok)}, "Epochs is -1"},
		{"negative max batches", Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4, MaxBatches: -2}, []Source{SliceSource("a", ok)}, "MaxBatches is -2"},
		{"no sources", Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4}, nil, "no sources"},
		{"one-language group", Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4}, []Source{SliceSource("x", []Group{one})}, "group x:1: 1 language(s)"},
		{"repeated language", Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4}, []Source{SliceSource("x", []Group{rep})}, "repeated language \"en\""},
		{"group twice in the buffer", Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4}, []Source{SliceSource("a", []Group{ok[0], ok[0]})}, "group a:1: twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sample(context.Background(), tt.cfg, tt.sources, func(Batch) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "mono", want: "mono"},
		{in: "cross", want: "cross"},
		{in: "hybrid", want: "hybrid:0.5"},
		{in: "hybrid:0.4", want: "hybrid:0.4"},
		{in: "hybrid:1.5", wantErr: true},
		{in: "hybrid:NaN", wantErr: true},
		{in: "hybrid:x", wantErr: true},
		{in: "mixed", wantErr: true},
	}
	for _, tt := range tests {
		s, err := ParseStrategy(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && s.String() != tt.want) {
			t.Errorf("ParseStrategy(%q) = %v, %v; want %q, error %v", tt.in, s, err, tt.want, tt.wantErr)
		}
	}
}

func BenchmarkSampleHybrid(b *testing.B) {
	gs := synthGroups("a", 100000, 3, testLangs, 14)
	cfg := Config{Strategy: mustHybrid(b, 0.5), BatchSize: 100, Buffer: 10000, Seed: 1, Epochs: 1 << 20}
	cfg.MaxBatches = b.N
	b.ResetTimer()
	if _, err := Sample(context.Background(), cfg, []Source{SliceSource("a", gs)}, func(Batch) error { return nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}

func TestSampleStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	cfg := Config{Strategy: StrategyCross(), BatchSize: 10, Buffer: 40, Seed: 1}
	_, err := Sample(ctx, cfg, []Source{SliceSource("a", synthGroups("a", 1000, 2, testLangs, 15))}, func(Batch) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("error %v after %d batches, want context.Canceled after 1", err, n)
	}
}

func TestSampleNamesTheFailingSource(t *testing.T) {
	bad := Source{Name: "bad", Size: 5, Groups: func(yield func(Group, error) bool) {
		yield(Group{}, errors.New("ntrex/deu.txt:3: empty line"))
	}}
	cfg := Config{Strategy: StrategyCross(), BatchSize: 2, Buffer: 4, Seed: 1}
	_, err := Sample(context.Background(), cfg, []Source{SliceSource("a", synthGroups("a", 5, 2, testLangs, 16)), bad}, func(Batch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "read source bad: ntrex/deu.txt:3: empty line") {
		t.Fatalf("error %v, want it to name source bad and pass on the reader's error", err)
	}
}
