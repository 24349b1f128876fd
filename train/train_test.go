package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xling/batching"
	"xling/encoder/hashbag"
	"xling/tokenizer/ngram"
)

// toyCorpus is a parallel set in two made-up languages: "xx" replaces every English word by a fixed
// unrelated word, so a pair shares no n-grams and the encoder must learn the mapping.
func toyCorpus(seed uint64, sentences int) []batching.Pair {
	rng := rand.New(rand.NewPCG(seed, 1))
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz"
		b := make([]byte, 4+rng.IntN(4))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	const vocab = 60
	en, xx := make([]string, vocab), make([]string, vocab)
	for i := range vocab {
		en[i], xx[i] = word(), strings.ToUpper(word())
	}
	pairs := make([]batching.Pair, sentences)
	for s := range pairs {
		var q, p []string
		for range 3 + rng.IntN(3) {
			w := rng.IntN(vocab)
			q, p = append(q, en[w]), append(p, xx[w])
		}
		pairs[s] = batching.Pair{Source: "toy", Group: fmt.Sprint(s), QLang: "en", PLang: "xx",
			Query: strings.Join(q, " "), Passage: strings.Join(p, " ")}
	}
	return pairs
}

// batches cycles over pairs in batches of size, with sequential ids.
func batches(pairs []batching.Pair, size int) func(context.Context) (batching.Batch, error) {
	var id uint64
	return func(context.Context) (batching.Batch, error) {
		lo := int(id) * size % len(pairs)
		b := batching.Batch{ID: id, Kind: batching.Cross, Pairs: pairs[lo : lo+size]}
		id++
		return b, nil
	}
}

func toyModel() *hashbag.Model {
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1 << 12
	return hashbag.NewRandom(cfg, 32, 32, 5)
}

// evaluate returns the mean InfoNCE and in-batch accuracy of m on the batches, without training.
func evaluate(t *testing.T, cfg Config, m *hashbag.Model, pairs []batching.Pair, size int) (loss, acc float64) {
	t.Helper()
	tok, err := ngram.New(m.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	n, err := newNet[float32](cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	var tb Tokenized
	count := 0
	for lo := 0; lo+size <= len(pairs); lo += size {
		Tokenize(cfg, tok, batching.Batch{Pairs: pairs[lo : lo+size]}, &tb)
		if err := n.load(&tb); err != nil {
			t.Fatal(err)
		}
		st := n.forward()
		loss += st.InfoNCE
		acc += st.Accuracy
		count++
	}
	return loss / float64(count), acc / float64(count)
}

func TestRunLowersHeldOutLossOnToyParallelSet(t *testing.T) {
	for _, c := range []struct {
		name  string
		langs []string
	}{
		{"infonce only", nil},
		{"with discriminator", []string{"en", "xx"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Train on 256 pairs, judge on 64 held-out sentences over the same vocabulary.
			corpus := toyCorpus(9, 320)
			pairs, held := corpus[:256], corpus[256:]
			cfg := DefaultConfig()
			cfg.Steps = 120
			cfg.LR = 0.01
			cfg.Languages = c.langs
			cfg.DiscHidden = 16
			cfg.Lambda = 0.1
			cfg.LogEvery = 0
			m := toyModel()
			loss0, acc0 := evaluate(t, cfg, m, held, 32)
			res, err := Run(context.Background(), cfg, m, batches(pairs, 32), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != cfg.Steps {
				t.Errorf("took %d steps, want %d", res.Steps, cfg.Steps)
			}
			// The model must hold the trained weights: evaluate reads only m.
			loss1, acc1 := evaluate(t, cfg, m, held, 32)
			t.Logf("loss %.3f -> %.3f, accuracy %.3f -> %.3f", loss0, loss1, acc0, acc1)
			if !(loss1 < loss0/2) || !(acc1 > acc0+0.5) {
				t.Errorf("training did not help: loss %.3f -> %.3f, accuracy %.3f -> %.3f", loss0, loss1, acc0, acc1)
			}
		})
	}
}

func TestRunWritesCheckpointThatReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	cfg := DefaultConfig()
	cfg.Steps = 5
	cfg.CheckpointPath = path
	cfg.CheckpointEvery = 2
	cfg.LogEvery = 5
	m := toyModel()
	var logs bytes.Buffer
	if _, err := Run(context.Background(), cfg, m, batches(toyCorpus(1, 64), 16), slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"step=5 ", "batch=4 ", "loss=", "acc=", "pairs_per_s="} {
		if !strings.Contains(logs.String(), field) {
			t.Errorf("progress log lacks %q: %s", field, logs.String())
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := hashbag.ReadONNX(f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Embedding, m.Embedding) || !slices.Equal(got.Proj, m.Proj) || !slices.Equal(got.Bias, m.Bias) {
		t.Errorf("checkpoint after the last step differs from the trained model")
	}
	if leftovers, _ := filepath.Glob(path + ".tmp*"); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// TestRunStopsOnNonFiniteLoss poisons the weights before the fourth batch: Run must fail naming that step
// and batch, and leave the checkpoint of step 2 untouched.
func TestRunStopsOnNonFiniteLoss(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	cfg := DefaultConfig()
	cfg.Steps = 10
	cfg.CheckpointPath = path
	cfg.CheckpointEvery = 2
	cfg.LogEvery = 0
	m := toyModel()
	inner := batches(toyCorpus(2, 64), 16)
	var good []byte
	next := func(ctx context.Context) (batching.Batch, error) {
		b, err := inner(ctx)
		if b.ID == 3 {
			if good, err = os.ReadFile(path); err != nil {
				return b, err
			}
			for i := range m.Embedding {
				m.Embedding[i] = float32(math.NaN())
			}
		}
		return b, err
	}
	_, err := Run(context.Background(), cfg, m, next, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 4 (batch 3)") {
		t.Fatalf("got error %v, want ErrNonFinite at step 4 (batch 3)", err)
	}
	now, rerr := os.ReadFile(path)
	if rerr != nil || !bytes.Equal(now, good) {
		t.Errorf("checkpoint changed after the failure (read error %v)", rerr)
	}
}

func TestRunEndsWhenBatchesRunOut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Steps = 100
	cfg.LogEvery = 0
	left := 3
	next := func(ctx context.Context) (batching.Batch, error) {
		if left == 0 {
			return batching.Batch{}, io.EOF
		}
		left--
		return batching.Batch{ID: uint64(3 - left), Pairs: toyCorpus(3, 8)}, nil
	}
	res, err := Run(context.Background(), cfg, toyModel(), next, slog.New(slog.DiscardHandler))
	if err != nil || res.Steps != 3 {
		t.Errorf("got %d steps, error %v; want 3 steps, no error", res.Steps, err)
	}
}

func TestRunStopsWhenContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := DefaultConfig()
	cfg.LogEvery = 0
	inner := batches(toyCorpus(4, 64), 16)
	next := func(ctx context.Context) (batching.Batch, error) {
		b, err := inner(ctx)
		if b.ID == 1 {
			cancel()
		}
		return b, err
	}
	res, err := Run(ctx, cfg, toyModel(), next, slog.New(slog.DiscardHandler))
	if !errors.Is(err, context.Canceled) || res.Steps != 2 {
		t.Errorf("got %d steps, error %v; want 2 steps, context.Canceled", res.Steps, err)
	}
}

func TestStepRejectsBadBatches(t *testing.T) {
	tests := []struct {
		name string
		b    Tokenized
	}{
		{"empty", Tokenized{}},
		{"uneven", Tokenized{Queries: [][]int64{{1}}, Passages: [][]int64{{1}, {2}}, QLang: []int{0}, PLang: []int{0, 0}}},
		{"id out of range", Tokenized{Queries: [][]int64{{1 << 12}}, Passages: [][]int64{{1}}, QLang: []int{0}, PLang: []int{0}}},
		{"negative id", Tokenized{Queries: [][]int64{{-1}}, Passages: [][]int64{{1}}, QLang: []int{0}, PLang: []int{0}}},
	}
	tr, err := NewTrainer(DefaultConfig(), toyModel())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tr.Step(&tt.b); err == nil {
				t.Errorf("Step accepted the batch")
			}
		})
	}
}

func TestTokenizePrefixesRolesAndMapsLanguages(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Languages = []string{"en", "de"}
	tc := ngram.DefaultConfig()
	tc.MaxTokens = 120
	tok, err := ngram.New(tc)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word ", 50)
	b := batching.Batch{Pairs: []batching.Pair{
		{QLang: "en", PLang: "de", Query: "Where?", Passage: "Hier."},
		{QLang: "el", PLang: "en", Query: long, Passage: "Here."},
	}}
	var tb Tokenized
	truncated := Tokenize(cfg, tok, b, &tb)
	if truncated != 1 {
		t.Errorf("truncated %d texts, want 1", truncated)
	}
	for i, p := range b.Pairs {
		wq, _ := tok.Encode("query: " + p.Query)
		wp, _ := tok.Encode("passage: " + p.Passage)
		if !slices.Equal(tb.Queries[i], wq) || !slices.Equal(tb.Passages[i], wp) {
			t.Errorf("pair %d: ids differ from the prefixed texts' encoding", i)
		}
	}
	if want := []int{0, -1}; !slices.Equal(tb.QLang, want) {
		t.Errorf("query languages %v, want %v", tb.QLang, want)
	}
	if want := []int{1, 0}; !slices.Equal(tb.PLang, want) {
		t.Errorf("passage languages %v, want %v", tb.PLang, want)
	}
}

func TestFreezeProjectionTrainsOnlyTheTable(t *testing.T) {
	m := toyModel()
	if err := m.IdentityProjection(); err != nil {
		t.Fatal(err)
	}
	proj, bias, emb := slices.Clone(m.Proj), slices.Clone(m.Bias), slices.Clone(m.Embedding)
	cfg := DefaultConfig()
	cfg.FreezeProjection, cfg.Steps, cfg.LogEvery = true, 3, 0
	if _, err := Run(context.Background(), cfg, m, batches(toyCorpus(1, 64), 16), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Proj, proj) || !slices.Equal(m.Bias, bias) {
		t.Errorf("frozen projection or bias changed")
	}
	if slices.Equal(m.Embedding, emb) {
		t.Errorf("embedding table did not train")
	}
}

func TestLambdaAtFollowsTheSchedule(t *testing.T) {
	// 2/(1+e^-10p) - 1 worked out by hand: p = 0.5 gives 2/(1+e^-5) - 1 = 0.986614...
	tests := []struct {
		schedule   string
		step, want float64
	}{
		{"", 0, 0.3},
		{ScheduleConstant, 50, 0.3},
		{ScheduleDANN, 0, 0},
		{ScheduleDANN, 50, 0.3 * 0.98661429815143},
		{ScheduleDANN, 10, 0.3 * 0.46211715726000974},  // p = 0.1: 2/(1+e^-1) - 1 = tanh(0.5)
		{ScheduleDANN, 500, 0.3 * 0.99990920426259510}, // past the end: held at p = 1
	}
	for _, tt := range tests {
		cfg := Config{Lambda: 0.3, LambdaSchedule: tt.schedule, Steps: 100}
		if got := cfg.LambdaAt(int(tt.step)); !(math.Abs(got-tt.want) < 1e-12) {
			t.Errorf("%q at step %v: lambda %v, want %v", tt.schedule, tt.step, got, tt.want)
		}
	}
	bad := DefaultConfig()
	bad.LambdaSchedule = "linear"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "LambdaSchedule") {
		t.Errorf("an unknown schedule: err = %v, want one naming LambdaSchedule", err)
	}
}

func TestRunAppliesTheLambdaSchedule(t *testing.T) {
	// One step: under the DANN schedule lambda is 0 at step 0, so the encoder must move exactly as with no
	// reversed gradient, and differently from a constant lambda.
	train := func(lambda float64, schedule string) []float32 {
		t.Helper()
		m := toyModel()
		cfg := DefaultConfig()
		cfg.Steps, cfg.LogEvery, cfg.Languages = 1, 0, []string{"en", "xx"}
		cfg.Lambda, cfg.LambdaSchedule = lambda, schedule
		if _, err := Run(context.Background(), cfg, m, batches(toyCorpus(1, 64), 16), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		return m.Embedding
	}
	none, dann, constant := train(0, ScheduleConstant), train(5, ScheduleDANN), train(5, ScheduleConstant)
	if !slices.Equal(none, dann) {
		t.Error("DANN schedule at step 0 moved the encoder differently from lambda 0")
	}
	if slices.Equal(none, constant) {
		t.Error("a constant lambda of 5 left the encoder as lambda 0 did: the reversed gradient is not applied")
	}
}
