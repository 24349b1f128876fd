package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"xling/batching"
	"xling/dataset"
	"xling/dataset/bitext"
	"xling/encoder/hashbag"
	"xling/tokenizer/ngram"
	"xling/train"
)

// Recipe is how xling's own encoder is trained: an alignment phase of translation ranking on bitext, then
// a QA phase with the strategy's batches. It runs in process (the same sampler and trainer as the
// pipeline's training phase, without the broker), which is what hyperparameter search needs.
type Recipe struct {
	Tokenizer ngram.Config `json:"tokenizer"`
	Dim       int          `json:"dim"`
	Prefixes  bool         `json:"prefixes"` // "query: " / "passage: " role prefixes
	// Projection trains a dim x dim projection and bias after the bag; without, they are the identity and
	// frozen, and the encoder is the normalised embedding bag alone.
	Projection bool     `json:"projection"`
	Bitext     []string `json:"bitext"` // tatoeba, ntrex, flores200, stsb, newstest

	AlignSteps int     `json:"align_steps"`
	AlignBatch int     `json:"align_batch"`
	AlignLR    float64 `json:"align_lr"`
	QASteps    int     `json:"qa_steps"`
	QAEpochs   int     `json:"qa_epochs,omitempty"` // if > 0, the QA phase runs this many epochs instead of QASteps
	QABatch    int     `json:"qa_batch"`
	QALR       float64 `json:"qa_lr"`

	WeightDecay float64 `json:"weight_decay"`
	Temperature float64 `json:"temperature"`
	Symmetric   bool    `json:"symmetric"`
	Buffer      int     `json:"buffer"`
}

// DefaultRecipe is the full recipe (chosen on MLQA-R validation questions; docs/tuning.md).
func DefaultRecipe() Recipe {
	tok := ngram.DefaultConfig()
	return Recipe{
		Tokenizer: tok, Dim: hashbag.DefaultDim,
		Bitext: []string{"tatoeba", "ntrex", "flores200", "stsb", "newstest"},
		// 4000 alignment steps, not 1500: validation Cr. +0.011 to +0.014 in each of 3 seeds. Learning rates
		// 0.02 and 0.05, not 3e-3: validation Cr. +0.05 and Mul. +0.02 on the quick schedule in each of 3 seeds
		// (docs/tuning.md).
		AlignSteps: 4000, AlignBatch: 256, AlignLR: 0.02,
		QASteps: 1500, QABatch: 256, QALR: 0.05,
		Temperature: 0.05, Buffer: 8192,
	}
}

// QuickRecipe is DefaultRecipe on a shorter schedule (750 alignment and 500 QA steps, about a quarter of
// its CPU time), for a default model trained on first use inside `make run`'s time budget.
func QuickRecipe() Recipe {
	r := DefaultRecipe()
	r.AlignSteps, r.QASteps = 750, 500
	return r
}

// Corpus returns the bitext corpus of that name under dataDir/bitext.
func Corpus(dataDir, name string) (bitext.Corpus, error) {
	dir := filepath.Join(dataDir, "bitext")
	switch name {
	case "tatoeba":
		return bitext.Tatoeba(filepath.Join(dir, "tatoeba")), nil
	case "ntrex":
		return bitext.NTREX(filepath.Join(dir, "ntrex")), nil
	case "flores200":
		return bitext.FLORES(filepath.Join(dir, "flores200-devtest")), nil
	case "stsb":
		return bitext.STSB(filepath.Join(dir, "stsb-multi-mt")), nil
	case "dict":
		// Word pairs from bilingual dictionaries, made by scripts/freedict-bitext.py in Tatoeba's layout: a
		// tuning experiment (docs/tuning.md), not in the recipe.
		c := bitext.Tatoeba(filepath.Join(dir, "dict"))
		c.Name = "dict"
		return c, nil
	case "newstest":
		// WMT news test sets share Tatoeba's eng-xxx.eng / eng-xxx.xxx layout.
		c := bitext.Tatoeba(filepath.Join(dir, "newstest"))
		c.Name = "newstest"
		return c, nil
	}
	return bitext.Corpus{}, fmt.Errorf("unknown bitext corpus %q (want tatoeba, ntrex, flores200, stsb, newstest or dict)", name)
}

// BitextGroups reads the corpora into memory as translation-ranking groups (held-out languages removed),
// in file order.
func BitextGroups(ctx context.Context, dataDir string, names, holdout []string) ([]batching.Group, error) {
	var gs []batching.Group
	for _, name := range names {
		c, err := Corpus(dataDir, name)
		if err != nil {
			return nil, err
		}
		for g, err := range batching.BitextSource(ctx, c, bitext.Options{Holdout: holdout}).Groups {
			if err != nil {
				return nil, fmt.Errorf("read bitext %s: %w", name, err)
			}
			gs = append(gs, g)
		}
	}
	return gs, nil
}

// Shuffled returns the groups in an order drawn from seed, so that a sampling buffer mixes every language
// pair from the first batch on (the corpora are stored pair by pair).
func Shuffled(gs []batching.Group, seed uint64) []batching.Group {
	gs = slices.Clone(gs)
	rand.New(rand.NewPCG(seed, 0x62697465)).Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] }) // "bite"
	return gs
}

// Phase is one training phase of a recipe.
type Phase struct {
	Source   batching.Source
	Strategy string // batching.ParseStrategy form
	Steps    int    // batches; with Epochs > 0, passes over Source instead
	Epochs   int
	Batch    int
	LR       float64
	Lambda   float64 // discriminator weight; 0: none
	// LambdaSchedule is train.Config.LambdaSchedule.
	LambdaSchedule string
	Langs          []string // the discriminator's classes: the languages this phase trains on
	// Balanced, with Lambda > 0, gives the discriminator texts of its own every step: DiscBatch texts drawn
	// from Groups with the languages in turn (the balanced design). Otherwise it learns from each batch's
	// texts (the paper's design; a mono batch holds one language).
	Balanced  bool
	Groups    []batching.Group
	DiscBatch int
	// HeldOut are texts the discriminator never learns from; its accuracy on them is recorded.
	HeldOut []train.Labelled
}

// BalancedTexts returns a draw of k texts per call, the languages taken in turn so that each holds k/len(langs)
// of them; each text is a random group's query or passage in that language. Languages no group has are
// skipped.
func BalancedTexts(groups []batching.Group, langs []string, k int, seed uint64) func(step int) []train.Labelled {
	byLang := map[string][]batching.Text{}
	for _, g := range groups {
		for _, t := range g.Texts {
			byLang[t.Lang] = append(byLang[t.Lang], t)
		}
	}
	var live []string
	for _, l := range langs {
		if len(byLang[l]) > 0 {
			live = append(live, l)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x64697363)) // "disc"
	return func(int) []train.Labelled {
		if len(live) == 0 {
			return nil
		}
		out := make([]train.Labelled, k)
		for i := range out {
			l := live[i%len(live)]
			t := byLang[l][r.IntN(len(byLang[l]))]
			text := t.Query
			if r.IntN(2) == 1 {
				text = t.Passage
			}
			out[i] = train.Labelled{Text: text, Lang: l}
		}
		return out
	}
}

// NewModel returns the recipe's untrained model.
func (r Recipe) NewModel(seed uint64) (*hashbag.Model, error) {
	m := hashbag.NewRandom(r.Tokenizer, r.Dim, r.Dim, seed)
	if !r.Projection {
		if err := m.IdentityProjection(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// TrainPhase trains m in place for one phase.
func TrainPhase(ctx context.Context, r Recipe, m *hashbag.Model, p Phase, seed uint64, log *slog.Logger) (train.Result, error) {
	strat, err := batching.ParseStrategy(p.Strategy)
	if err != nil {
		return train.Result{}, err
	}
	tcfg := train.DefaultConfig()
	tcfg.Seed, tcfg.LR, tcfg.WeightDecay, tcfg.Temperature, tcfg.Symmetric = seed, p.LR, r.WeightDecay, r.Temperature, r.Symmetric
	tcfg.Steps, tcfg.LogEvery, tcfg.Lambda, tcfg.LambdaSchedule = p.Steps, 100, p.Lambda, p.LambdaSchedule
	tcfg.FreezeProjection = !r.Projection
	tcfg.QueryPrefix, tcfg.PassagePrefix = "", ""
	if r.Prefixes {
		tcfg.QueryPrefix, tcfg.PassagePrefix = "query: ", "passage: "
	}
	if p.Lambda > 0 {
		tcfg.Languages, tcfg.DiscHeldOut = p.Langs, p.HeldOut
		if p.Balanced {
			tcfg.DiscTexts = BalancedTexts(p.Groups, p.Langs, p.DiscBatch, seed)
		}
	}
	scfg := batching.Config{Strategy: strat, BatchSize: p.Batch, Buffer: max(r.Buffer, p.Batch), Seed: seed, Epochs: 1 << 20, MaxBatches: p.Steps}
	if p.Epochs > 0 {
		scfg.Epochs, scfg.MaxBatches, tcfg.Steps = p.Epochs, 0, 1<<30
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batching.Batch, 4)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		_, err := batching.Sample(ctx, scfg, []batching.Source{p.Source}, func(b batching.Batch) error {
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		errc <- err
	}()
	res, err := train.Run(ctx, tcfg, m, batching.FromChannel(batches), log)
	cancel()
	for range batches { // let the sampler see the cancellation
	}
	if serr := <-errc; err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	m.QueryPrefix, m.PassagePrefix = tcfg.QueryPrefix, tcfg.PassagePrefix
	return res, err
}

// BalancedHeldOut takes the validation questions' texts, the same number in every language, as texts the
// discriminator never learns from.
func BalancedHeldOut(val []dataset.Item, langs []string) []train.Labelled {
	by := map[string][]string{}
	for _, it := range val {
		if it.Kind == dataset.Query {
			by[it.Lang] = append(by[it.Lang], it.Text)
		}
	}
	n := -1
	for _, l := range langs {
		if n < 0 || len(by[l]) < n {
			n = len(by[l])
		}
	}
	var out []train.Labelled
	for _, l := range langs {
		for _, t := range by[l][:max(n, 0)] {
			out = append(out, train.Labelled{Text: t, Lang: l})
		}
	}
	return out
}
