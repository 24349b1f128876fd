// Command synthpool writes a synthetic LAReQA dataset SCALE times the size of a real one, for memory and
// scale runs: every article of every language file is written SCALE times, each copy with the words of
// every sentence and question shuffled (the characters, for a sentence of fewer than three words), so the
// texts keep their scripts, lengths and sentence breaks but differ from copy to copy. Question ids get
// the copy's number. The same seed writes the same files.
//
//	go run ./dataset/synthpool -from ../shared/data/xquad-r -scale 10 -seed 1 -out /tmp/pool10/xquad-r
//
// With -brokers it writes embeddings instead, of any size (package pool): a LAReQA-shaped pool of
// -questions parallel questions in each of -langs and -candidates candidates per language, d = -dim,
// produced to a run's embeddings topic as the encode stage would, for score workers (xling stage score,
// or score-shard-<i> and score-merge with --score-shards) to score.
//
//	go run ./dataset/synthpool -brokers 127.0.0.1:9092 -run-id r1 -langs de,en,es,zh -questions 2500 -candidates 250000 -dim 256
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"xling/dataset/synthpool/pool"
	"xling/pipeline"
)

type file struct {
	Data    []article `json:"data"`
	Version string    `json:"version"`
}

type article struct {
	Title      string      `json:"title"`
	Paragraphs []paragraph `json:"paragraphs"`
}

type paragraph struct {
	Context        string   `json:"context"`
	SentenceBreaks [][]int  `json:"sentence_breaks"`
	Sentences      []string `json:"sentences"`
	QAs            []qa     `json:"qas"`
}

type qa struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Answers  []answer `json:"answers"`
}

type answer struct {
	Text        string `json:"text"`
	AnswerStart int    `json:"answer_start"`
}

func main() {
	from := flag.String("from", "", "directory of LAReQA language files (<lang>.json)")
	out := flag.String("out", "", "directory to write the synthetic files to")
	scale := flag.Int("scale", 10, "copies of every article")
	seed := flag.Uint64("seed", 1, "shuffle seed (with -brokers: the pool's seed)")
	brokers := flag.String("brokers", "", "write synthetic embeddings to this cluster's embeddings topic instead of texts to files")
	runID := flag.String("run-id", "", "with -brokers: the run the embeddings belong to")
	prefix := flag.String("topic-prefix", pipeline.DefaultTopics().Prefix, "with -brokers: the topics' prefix")
	partitions := flag.Int("partitions", pipeline.DefaultTopics().Partitions, "with -brokers: partitions of topics it creates")
	cfg := pool.Config{Dataset: "synth", Model: "synthetic"}
	langs := flag.String("langs", "de,en,es,zh", "with -brokers: languages")
	flag.StringVar(&cfg.Dataset, "dataset", cfg.Dataset, "with -brokers: the dataset's name")
	flag.IntVar(&cfg.Questions, "questions", 1000, "with -brokers: parallel questions (a query in each language)")
	flag.IntVar(&cfg.Candidates, "candidates", 100000, "with -brokers: candidates per language, answers included")
	flag.IntVar(&cfg.Dim, "dim", 256, "with -brokers: embedding dimension")
	flag.Float64Var(&cfg.Noise, "noise", 1, "with -brokers: how noisy the vectors are (pool.Config.Noise)")
	flag.Parse()
	if *brokers != "" {
		cfg.Langs, cfg.Seed = strings.Split(*langs, ","), *seed
		topics := pipeline.Topics{Prefix: *prefix, Partitions: *partitions}
		if err := produce(*brokers, *runID, topics, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "synthpool:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*from, *out, *scale, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "synthpool:", err)
		os.Exit(1)
	}
}

// produce writes the pool to the embeddings topic of run on the cluster at brokers.
func produce(brokers, run string, topics pipeline.Topics, cfg pool.Config) error {
	if run == "" {
		return fmt.Errorf("-brokers needs -run-id: the score workers read one run's embeddings")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b, err := pipeline.Connect(ctx, pipeline.BrokerConfig{Addrs: strings.Split(brokers, ",")})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.CreateTopics(ctx, topics.Partitions, topics.Sharded()...); err != nil {
		return err
	}
	return pool.Produce(ctx, pipeline.Worker{Transport: b, Topics: topics, RunID: run}, cfg, 512)
}

func run(from, out string, scale int, seed uint64) error {
	if from == "" || out == "" || scale < 1 {
		return fmt.Errorf("want -from, -out and -scale >= 1")
	}
	paths, err := filepath.Glob(filepath.Join(from, "*.json"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("no language files in %s", from)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for i, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var f file
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		var big file
		big.Version = f.Version
		for c := range scale {
			for _, a := range f.Data {
				big.Data = append(big.Data, copyArticle(rng, a, c))
			}
		}
		body, err := json.Marshal(big)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(path)), body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyArticle is copy c of a: every sentence (each [start, end) code-point range of its context) and
// question shuffled in place, so the breaks and answer offsets still hold.
func copyArticle(rng *rand.Rand, a article, c int) article {
	out := article{Title: fmt.Sprintf("%s (%d)", a.Title, c)}
	for _, p := range a.Paragraphs {
		ctx := []rune(p.Context)
		np := paragraph{SentenceBreaks: p.SentenceBreaks}
		for _, br := range p.SentenceBreaks {
			if len(br) != 2 || br[0] < 0 || br[0] > br[1] || br[1] > len(ctx) {
				continue // a break the reader will reject anyway
			}
			s := []rune(shuffle(rng, string(ctx[br[0]:br[1]])))
			copy(ctx[br[0]:br[1]], s)
			np.Sentences = append(np.Sentences, string(s))
		}
		np.Context = string(ctx)
		for _, q := range p.QAs {
			np.QAs = append(np.QAs, qa{ID: fmt.Sprintf("%s-%d", q.ID, c), Question: shuffle(rng, q.Question), Answers: q.Answers})
		}
		out.Paragraphs = append(out.Paragraphs, np)
	}
	return out
}

// shuffle reorders the space-separated words of s, or its characters when it has fewer than three words;
// either way the result has as many code points as s.
func shuffle(rng *rand.Rand, s string) string {
	if words := strings.Split(s, " "); len(words) >= 3 {
		rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
		return strings.Join(words, " ")
	}
	r := []rune(s)
	rng.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
	return string(r)
}
