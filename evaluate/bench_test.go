package evaluate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"xling/dataset"
	"xling/encoder"
	"xling/encoder/hashbag"
	"xling/encoder/ort"
	"xling/internal/kafkatest"
	"xling/internal/testenv"
	"xling/schemas"
	"xling/sinks"
	"xling/stages/encode"
	"xling/stages/score"
	"xling/stages/tokenize"
	"xling/tokenizer/ngram"
)

// BenchmarkTransport runs the same evaluation (XQuAD-R, 11 languages, xling's default-size encoder) through
// the embedded broker, every stage a consumer-group member, and with the same stage functions called
// directly in one goroutine, Parquet sinks included in both. The two take turns (testenv.Interleave: a
// warm-up each, then the order rotating round by round), so load from elsewhere falls on both alike. It
// reports transport-%, the share of end-to-end time the transport costs, 100 × (1 − direct/pipeline), as
// the median over rounds with its range, and the CPU seconds of each.
func BenchmarkTransport(b *testing.B) {
	data := testenv.DataDir(b)
	lib := testenv.ORTLibrary(b)
	model := defaultSizeModel(b)
	cfg := func() Config {
		return Config{DataDir: data, OutDir: b.TempDir(), Datasets: []string{dataset.XQuADR}, Model: model, RunID: "bench",
			ORTLibrary: lib, Progress: time.Hour}
	}
	var pipeCPU, directCPU []float64
	pipeline := func() {
		cpu := cpuTime(b)
		if _, err := Run(context.Background(), cfg(), quiet()); err != nil {
			b.Fatal(err)
		}
		pipeCPU = append(pipeCPU, (cpuTime(b) - cpu).Seconds())
	}
	directPeer := testenv.Peer{Name: "direct", Run: func() float64 {
		start, cpu := time.Now(), cpuTime(b)
		if err := direct(context.Background(), cfg()); err != nil {
			b.Fatal(err)
		}
		directCPU = append(directCPU, (cpuTime(b) - cpu).Seconds())
		return time.Since(start).Seconds()
	}}
	xs, ps := testenv.Interleave(b, 1, pipeline, directPeer)
	shares := make([]float64, len(xs))
	for i := range xs {
		shares[i] = 100 * (1 - ps[0][i]/xs[i])
	}
	b.ReportMetric(testenv.Sum(xs)/float64(len(xs)), "pipeline-s")
	b.ReportMetric(slices.Min(shares), "transport-%-min")
	b.ReportMetric(slices.Max(shares), "transport-%-max")
	b.ReportMetric(testenv.Median(shares), "transport-%")
	// CPU seconds (user + system, all threads) tell work added from time spent waiting.
	b.ReportMetric(testenv.Sum(pipeCPU)/float64(len(pipeCPU)), "pipeline-cpu-s")
	b.ReportMetric(testenv.Sum(directCPU)/float64(len(directCPU)), "direct-cpu-s")
}

// BenchmarkTransportKafka is BenchmarkTransport with Apache Kafka beside the embedded broker: the same
// evaluation through the real 3-broker cluster (replication factor 3, min.insync.replicas 2, acks=all),
// through the embedded broker, and called directly, taking turns. It reports each broker's transport share
// (transport-%-kafka, transport-%-embedded: medians over rounds) and the seconds of each.
func BenchmarkTransportKafka(b *testing.B) {
	data := testenv.DataDir(b)
	lib := testenv.ORTLibrary(b)
	model := defaultSizeModel(b)
	k := kafkatest.Start(b)
	round := 0
	cfg := func(brokers []string) Config {
		round++ // each Kafka run its own run id; the topics are shared, as a deployment's are
		return Config{DataDir: data, OutDir: b.TempDir(), Datasets: []string{dataset.XQuADR}, Model: model,
			RunID: fmt.Sprintf("bench%d", round), ORTLibrary: lib, Progress: time.Hour, Brokers: brokers}
	}
	run := func(brokers []string) float64 {
		start := time.Now()
		if _, err := Run(context.Background(), cfg(brokers), quiet()); err != nil {
			b.Fatal(err)
		}
		return time.Since(start).Seconds()
	}
	kafka := func() { run(strings.Split(k.Brokers, ",")) }
	embedded := testenv.Peer{Name: "embedded", Run: func() float64 { return run(nil) }}
	directPeer := testenv.Peer{Name: "direct", Run: func() float64 {
		start := time.Now()
		if err := direct(context.Background(), cfg(nil)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start).Seconds()
	}}
	xs, ps := testenv.Interleave(b, 1, kafka, embedded, directPeer)
	kafkaShare, embShare := make([]float64, len(xs)), make([]float64, len(xs))
	for i := range xs {
		kafkaShare[i] = 100 * (1 - ps[1][i]/xs[i])
		embShare[i] = 100 * (1 - ps[1][i]/ps[0][i])
	}
	b.ReportMetric(testenv.Sum(xs)/float64(len(xs)), "kafka-s")
	b.ReportMetric(testenv.Median(kafkaShare), "transport-%-kafka")
	b.ReportMetric(slices.Min(kafkaShare), "transport-%-kafka-min")
	b.ReportMetric(slices.Max(kafkaShare), "transport-%-kafka-max")
	b.ReportMetric(testenv.Median(embShare), "transport-%-embedded")
	b.ReportMetric(slices.Min(embShare), "transport-%-embedded-min")
	b.ReportMetric(slices.Max(embShare), "transport-%-embedded-max")
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// defaultSizeModel writes a random encoder of the default model's shape: speed does not depend on the
// weights, so the benchmark needs no trained model.
func defaultSizeModel(b testing.TB) string {
	path := filepath.Join(b.TempDir(), "hashbag-random.onnx")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := hashbag.NewRandom(ngram.DefaultConfig(), hashbag.DefaultDim, hashbag.DefaultDim, 1).WriteONNX(f); err != nil {
		b.Fatal(err)
	}
	return path
}

// direct is Run without the broker: the stage functions in sequence, one language at a time.
func direct(ctx context.Context, cfg Config) error {
	spec, err := encoder.Load(cfg.Model)
	if err != nil {
		return err
	}
	rt, err := ort.NewRuntime(cfg.ORTLibrary)
	if err != nil {
		return err
	}
	defer rt.Close()
	sess, err := rt.Open(spec.Path, spec.SessionConfig(cfg.Threads, cfg.Provider))
	if err != nil {
		return err
	}
	defer sess.Close()
	tok, err := spec.NewTokenizer(sess.Metadata())
	if err != nil {
		return err
	}
	langs, _ := dataset.Langs(cfg.DataDir, cfg.Datasets, nil)
	tcfg := tokenize.Config{Langs: langs}
	sc := score.New(score.Config{Model: spec.Name}, quiet())
	rows := rowsOf{run: cfg.RunID, time: time.Now().UTC()}
	dir := filepath.Join(cfg.OutDir, "direct")
	embW, err := sinks.Create[sinks.EmbeddingRow](filepath.Join(dir+"-embeddings.parquet"), sinks.Options{})
	if err != nil {
		return err
	}
	rankW, err := sinks.Create[sinks.RankingRow](filepath.Join(dir+"-rankings.parquet"), sinks.Options{})
	if err != nil {
		return err
	}
	metW, err := sinks.Create[sinks.MetricRow](filepath.Join(dir+"-metrics.parquet"), sinks.Options{})
	if err != nil {
		return err
	}
	for _, name := range cfg.Datasets {
		files, err := dataset.Files(cfg.DataDir, name, nil, nil)
		if err != nil {
			return err
		}
		var fileLangs []string
		for _, f := range files {
			fileLangs = append(fileLangs, f.Lang)
		}
		for _, f := range files {
			res, err := f.Read(dataset.Options{})
			if err != nil {
				return err
			}
			for _, kind := range []dataset.Kind{dataset.Query, dataset.Candidate} {
				var recs []schemas.Record
				for _, it := range res.Items {
					if it.Kind != kind {
						continue
					}
					r := it
					r.Context = ""
					text, err := tcfg.Text(r)
					if err != nil {
						return err
					}
					if r.TokenIDs, r.TypeIDs, r.Truncated, err = tok.Encode(text); err != nil {
						return err
					}
					recs = append(recs, r)
				}
				if err := encode.Embed(ctx, sess, encode.Config{Model: spec.Name}, recs); err != nil {
					return err
				}
				for _, r := range recs {
					if err := embW.Write(rows.embedding(r)); err != nil {
						return err
					}
					if err := sc.Add(r); err != nil {
						return err
					}
				}
				out, err := sc.End(ctx, schemas.Marker{Kind: schemas.StreamEnd, Dataset: name, Lang: f.Lang, ItemKind: kind, Count: int64(len(recs)), Langs: fileLangs})
				if err != nil {
					return err
				}
				var ranked []sinks.RankingRow
				for _, r := range out.Rankings {
					if ranked, err = rows.rankings(r, ranked[:0]); err != nil {
						return err
					}
					if err := rankW.Write(ranked...); err != nil {
						return err
					}
				}
				for _, m := range out.Metrics {
					if err := metW.Write(rows.metric(m)); err != nil {
						return err
					}
				}
			}
		}
	}
	for _, w := range []interface {
		Close() (sinks.OutputFile, error)
	}{embW, rankW, metW} {
		if _, err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}
