// Package cluster runs xling as a stream processor would be run: every stage its own process, against
// `xling broker` (one node or three), with one or two workers per stage, and with workers killed (kill -9)
// at random moments and restarted. Each run's tables are compared, value for value, with `xling run`'s.
//
//	go test ./scripts/cluster -run TestCrash -args -kills 20 -datasets xquad-r,mlqa-r -langs ""   (make crash-test)
package cluster

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"xling/evaluate"
	"xling/internal/testenv"
	"xling/internal/testrun"
	"xling/sinks"
	"xling/sinks/pgstore/pgtest"
)

var (
	kills     = flag.Int("kills", 3, "workers killed (kill -9) and restarted during the crash test")
	datasets  = flag.String("datasets", "xquad-r", "datasets of the runs")
	langs     = flag.String("langs", "en,de,zh,th", "languages of the runs (empty: all)")
	seed      = flag.Uint64("seed", 1, "seed of the crash test's choice of victims and moments")
	faultRuns = flag.Int("fault-runs", 1, "runs of each fault class on the real Kafka cluster")
	storm     = flag.Bool("storm", false, "run the rebalance storm on the real Kafka cluster (make kafka-faults does; it stalls since the session's merges, docs/reliability.md)")
)

// env is what every run of a test shares: the xling binary, a model and the data.
type env struct {
	bin, model, data, lib string
}

// setup returns the package's env: the binary and model are made once, in a folder TestMain removes.
func setup(t testing.TB) env {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process runs: not in -short")
	}
	refs.mu.Lock()
	defer refs.mu.Unlock()
	if refs.env.bin != "" {
		return refs.env
	}
	e := env{data: testenv.DataDir(t), lib: testenv.ORTLibrary(t)}
	dir, err := os.MkdirTemp("", "xling-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	refs.tmp = append(refs.tmp, dir)
	e.bin = filepath.Join(dir, "xling")
	build := exec.Command("go", "build", "-o", e.bin, "./cmd/xling")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build xling: %v\n%s", err, out)
	}
	model, err := os.ReadFile(testrun.Model(t, "small", 7))
	if err != nil {
		t.Fatal(err)
	}
	e.model = filepath.Join(dir, "small.onnx")
	if err := os.WriteFile(e.model, model, 0o644); err != nil {
		t.Fatal(err)
	}
	refs.env = e
	return e
}

func (e env) args(out, runID string) []string {
	return []string{"--data", e.data, "--out", out, "--run-id", runID, "--model", e.model, "--ort", e.lib,
		"--datasets", *datasets, "--langs", *langs, "--threads", "1"}
}

// reference runs `xling run` (every stage in one process, embedded broker) and returns its run directory.
// Tests with the same model and flags share one reference run.
func (e env) reference(t testing.TB) string {
	t.Helper()
	refs.mu.Lock()
	defer refs.mu.Unlock()
	key := strings.Join(e.args("", "ref"), "\x00")
	if dir, ok := refs.dirs[key]; ok {
		return dir
	}
	out, err := os.MkdirTemp("", "xling-ref-")
	if err != nil {
		t.Fatal(err)
	}
	refs.tmp = append(refs.tmp, out)
	cmd := exec.Command(e.bin, append([]string{"run"}, e.args(out, "ref")...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xling run: %v\n%s", err, b)
	}
	refs.dirs[key] = filepath.Join(out, "ref")
	return refs.dirs[key]
}

// refs is what the tests of this binary share: the env, the reference runs by flags, and the folders that
// hold them, removed by TestMain.
var refs = struct {
	mu   sync.Mutex
	env  env
	dirs map[string]string
	tmp  []string
}{dirs: map[string]string{}}

// broker starts `xling broker` and returns its address.
func (e env) broker(t testing.TB, nodes int) string {
	t.Helper()
	cmd := exec.Command(e.bin, "broker", "--listen", "127.0.0.1:0", "--nodes", fmt.Sprint(nodes))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("xling broker: %v", err)
	}
	return strings.TrimSpace(line)
}

// cluster is one multi-process run: stage workers against a broker.
type cluster struct {
	t      testing.TB
	e      env
	addr   string
	out    string
	runID  string
	mu     sync.Mutex
	procs  map[*exec.Cmd]string // running worker -> stage
	exited chan exited
	logs   strings.Builder
	extra  []string           // more flags for every worker
	left   map[*exec.Cmd]bool // workers told to leave (or killed) on purpose: their exit is no failure
}

type exited struct {
	cmd   *exec.Cmd
	stage string
	err   error
}

func (e env) cluster(t testing.TB, addr, runID string) *cluster {
	c := &cluster{t: t, e: e, addr: addr, out: t.TempDir(), runID: runID, procs: map[*exec.Cmd]string{}, exited: make(chan exited, 64), left: map[*exec.Cmd]bool{}}
	t.Cleanup(func() { // a test that fails midway leaves no worker behind, stopped or running
		c.mu.Lock()
		defer c.mu.Unlock()
		for cmd := range c.procs {
			cmd.Process.Kill()
		}
	})
	return c
}

func (c *cluster) start(stage string) *exec.Cmd {
	c.t.Helper()
	args := append([]string{"stage", stage, "--brokers", c.addr}, c.e.args(c.out, c.runID)...)
	cmd := exec.Command(c.e.bin, append(args, c.extra...)...)
	cmd.Stdout, cmd.Stderr = &syncWriter{c: c, stage: stage}, &syncWriter{c: c, stage: stage}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.procs[cmd] = stage
	c.mu.Unlock()
	go func() { c.exited <- exited{cmd, stage, cmd.Wait()} }()
	return cmd
}

type syncWriter struct {
	c     *cluster
	stage string
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			w.c.logs.WriteString(w.stage + ": " + line)
		}
	}
	return len(p), nil
}

// wait waits until every worker has exited; a worker that fails (and was not killed) fails the test.
func (c *cluster) wait(ctx context.Context, killed map[*exec.Cmd]bool) {
	c.t.Helper()
	for {
		c.mu.Lock()
		n := len(c.procs)
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case x := <-c.exited:
			c.reap(x, killed)
		case <-ctx.Done():
			c.mu.Lock()
			var left []string
			for cmd, s := range c.procs {
				left = append(left, s)
				cmd.Process.Kill()
			}
			c.mu.Unlock()
			c.t.Fatalf("workers %v still running at the deadline; logs:\n%s", left, c.logs.String())
		}
	}
}

func (c *cluster) reap(x exited, killed map[*exec.Cmd]bool) {
	c.t.Helper()
	c.mu.Lock()
	delete(c.procs, x.cmd)
	c.mu.Unlock()
	if x.err != nil && !killed[x.cmd] {
		c.t.Fatalf("worker %s failed: %v; logs:\n%s", x.stage, x.err, c.logs.String())
	}
}

// run starts workers per stage (ingest once) and waits for the run to finish.
func (c *cluster) run(ctx context.Context, workers int) {
	for _, s := range evaluate.StageNamesFor(c.e.model) {
		n := workers
		if s == evaluate.Ingest || strings.HasPrefix(s, "sink-") {
			n = 1 // ingest reads the files once; a sink writes one table
		}
		for range n {
			c.start(s)
		}
	}
	c.wait(ctx, nil)
}

// tables reads a run's metrics (keyed without the run id) and the count and an order-independent checksum of
// its embeddings (none for BM25).
func tables(t testing.TB, dir string) (map[string]float64, int, uint64) {
	t.Helper()
	ms, err := parquet.ReadFile[sinks.MetricRow](filepath.Join(dir, "metrics.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]float64{}
	for _, m := range ms {
		k := m.Key()
		if _, dup := metrics[k]; dup {
			t.Errorf("%s: metric %q twice", dir, k)
		}
		metrics[k] = m.Value
	}
	path := filepath.Join(dir, "embeddings.parquet")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return metrics, 0, 0
	}
	es, err := parquet.ReadFile[sinks.EmbeddingRow](path)
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, e := range es {
		h := fnv.New64a()
		h.Write([]byte(e.Key()))
		for _, v := range e.Vector {
			fmt.Fprintf(h, ",%x", math.Float32bits(v))
		}
		sum += h.Sum64() // a sum of row hashes: the same whatever the row order
	}
	return metrics, len(es), sum
}

func compare(t testing.TB, what, ref, got string) {
	t.Helper()
	rm, rn, rsum := tables(t, ref)
	gm, gn, gsum := tables(t, got)
	if len(rm) == 0 {
		t.Fatalf("%s: the reference run has no metrics", what)
	}
	diff := 0
	for k, v := range rm {
		if g, ok := gm[k]; !ok || g != v {
			if diff++; diff <= 5 {
				t.Errorf("%s: metric %q = %v (present %v), xling run %v", what, strings.ReplaceAll(k, "\x00", " "), g, ok, v)
			}
		}
	}
	if len(gm) != len(rm) || diff > 0 {
		t.Errorf("%s: %d metrics, %d differ; xling run has %d", what, len(gm), diff, len(rm))
	}
	if gn != rn || gsum != rsum {
		t.Errorf("%s: %d embeddings (checksum %x), xling run %d (%x)", what, gn, gsum, rn, rsum)
	}
	compareRankings(t, what, ref, got)
}

// compareRankings checks that got's rankings.parquet holds ref's rows, value for value: the same lists,
// the same candidate, score (to the bit) and relevance at each rank. Row order is not compared: rows are
// written as their messages arrive, which differs between runs. Rank within a list is: the scorer orders
// its candidates by id and breaks score ties by that order.
func compareRankings(t testing.TB, what, ref, got string) {
	t.Helper()
	want := map[uint64]uint64{} // hash of a row's key -> hash of its values
	rn := readRankings(t, ref, func(key string, value uint64) {
		kh := hash64(key)
		if _, dup := want[kh]; dup {
			t.Errorf("%s: reference ranking %q twice", what, strings.ReplaceAll(key, "\x00", " "))
		}
		want[kh] = value
	})
	seen := make(map[uint64]bool, len(want))
	bad := 0
	gn := readRankings(t, got, func(key string, value uint64) {
		kh := hash64(key)
		w, ok := want[kh]
		switch {
		case seen[kh]:
			if bad++; bad <= 5 {
				t.Errorf("%s: ranking %q twice", what, strings.ReplaceAll(key, "\x00", " "))
			}
		case !ok || w != value:
			if bad++; bad <= 5 {
				t.Errorf("%s: ranking %q differs from xling run's (present there: %v)", what, strings.ReplaceAll(key, "\x00", " "), ok)
			}
		}
		seen[kh] = true
	})
	if rn < 0 || gn < 0 {
		if rn != gn {
			t.Errorf("%s: rankings.parquet in one run only (rows %d, xling run %d; -1: no file)", what, gn, rn)
		}
		return
	}
	if rn == 0 {
		t.Errorf("%s: the reference run has no rankings", what)
	}
	if gn != rn || bad > 0 || len(seen) != len(want) {
		t.Errorf("%s: %d rankings, %d wrong, %d of xling run's %d found", what, gn, bad, len(seen), rn)
	}
}

// readRankings calls f with the key (list and rank, without the run id) and a hash of the values of every
// row of dir's rankings.parquet, and returns how many rows it has, -1 if there is no table.
func readRankings(t testing.TB, dir string, f func(key string, value uint64)) int {
	t.Helper()
	path := filepath.Join(dir, "rankings.parquet")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return -1
	}
	rs, err := parquet.ReadFile[sinks.RankingRow](path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		// Time is when the row was written, so it differs between runs.
		f(r.Key(), hash64(fmt.Sprintf("%s\x00%x\x00%t\x00%s", r.CandidateID, math.Float32bits(r.Score), r.Relevant, r.DatasetVersion)))
	}
	return len(rs)
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func TestScaleOutMatchesOneProcess(t *testing.T) {
	e := setup(t)
	ref := e.reference(t)
	for _, tc := range []struct {
		name           string
		nodes, workers int
	}{
		{"one node, one worker per stage", 1, 1},
		{"one node, two workers per stage", 1, 2},
		{"three nodes, two workers per stage", 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c := e.cluster(t, e.broker(t, tc.nodes), "scale")
			start := time.Now()
			c.run(ctx, tc.workers)
			t.Logf("%s: %s", tc.name, time.Since(start).Round(time.Millisecond))
			compare(t, tc.name, ref, filepath.Join(c.out, "scale"))
		})
	}
}

// BM25 has no encode stage and its scorer reads the tokens, keyed by dataset: two workers per stage (two
// tokenizers writing one dataset's partition, two scorers sharing the datasets) give xling run's metrics.
func TestScaleOutBM25MatchesOneProcess(t *testing.T) {
	e := setup(t)
	e.model = evaluate.BM25
	ref := e.reference(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := e.cluster(t, e.broker(t, 1), "bm25")
	c.run(ctx, 2)
	compare(t, "bm25, two workers per stage", ref, filepath.Join(c.out, "bm25"))
}

// TestCrash kills a random running worker at a random moment, -kills times, restarting each, and checks that
// the tables (metrics, embeddings, rankings) equal `xling run`'s: nothing lost, nothing counted twice.
func TestCrash(t *testing.T) {
	e := setup(t)
	crash(t, e, e.reference(t), e.broker(t, 1), *seed, nil)
}

// crash runs every stage as its own worker against addr, kills a random running worker at a random moment
// (drawn from seed), -kills times, restarting each, and compares the tables with ref's.
func crash(t *testing.T, e env, ref, addr string, seed uint64, extra []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c := e.cluster(t, addr, "crash")
	c.extra = extra
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, s := range evaluate.StageNames() {
		c.start(s)
	}
	killed := map[*exec.Cmd]bool{}
	var victims []string
	for len(victims) < *kills {
		select {
		case x := <-c.exited:
			c.reap(x, killed)
		case <-time.After(time.Duration(500+rng.IntN(2500)) * time.Millisecond):
		}
		c.mu.Lock()
		running := make([]*exec.Cmd, 0, len(c.procs))
		for cmd := range c.procs {
			running = append(running, cmd)
		}
		slices.SortFunc(running, func(a, b *exec.Cmd) int { return strings.Compare(c.procs[a], c.procs[b]) })
		c.mu.Unlock()
		if len(running) == 0 {
			break
		}
		v := running[rng.IntN(len(running))]
		stage := c.procs[v]
		killed[v] = true
		v.Process.Kill() // SIGKILL: no clean shutdown
		victims = append(victims, stage)
		c.start(stage)
	}
	c.wait(ctx, killed)
	t.Logf("killed and restarted %d workers: %v", len(victims), victims)
	if len(victims) < *kills {
		t.Errorf("the run ended after %d of %d kills", len(victims), *kills)
	}
	compare(t, "crash", ref, filepath.Join(c.out, "crash"))
}

// TestStoreSurvivesKills kills the store stage (kill -9) while it writes and restarts it, and checks that
// PostgreSQL then holds exactly the run's embeddings: none missing, none twice, every vector bit for bit.
func TestStoreSurvivesKills(t *testing.T) {
	e := setup(t)
	pg := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := e.cluster(t, e.broker(t, 1), "store")
	// The DSN travels in a file, as xling takes it: never on the command line.
	dsnFile := filepath.Join(t.TempDir(), "pg-dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.DSN()), 0o600); err != nil {
		t.Fatal(err)
	}
	c.extra = []string{"--pg-dsn-file", dsnFile}
	// The other stages run first, so that the store starts on the whole backlog of embeddings and each
	// kill falls while rows arrive in PostgreSQL: a kill at a random moment of a run as quick as this one
	// mostly fell after the store had finished.
	for _, s := range evaluate.StageNames() {
		c.start(s)
	}
	c.wait(ctx, nil)
	c.start(evaluate.Store)
	rng := rand.New(rand.NewPCG(*seed, 1))
	killed := map[*exec.Cmd]bool{}
	kills, from := 0, 0 // from: the rows PostgreSQL held when the store last started
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
watch:
	for kills < 3 {
		select {
		case x := <-c.exited:
			c.reap(x, killed)
			if !killed[x.cmd] {
				break watch // the store has finished
			}
			continue
		case <-tick.C:
		}
		n := pg.Rows(t)
		if n <= from {
			continue
		}
		// Mid-write: some rows are in since the (re)start. A random pause puts the kill anywhere in
		// the batches that follow.
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		var victim *exec.Cmd
		c.mu.Lock()
		for cmd, s := range c.procs {
			if s == evaluate.Store {
				victim = cmd
			}
		}
		c.mu.Unlock()
		if victim == nil {
			break // the store has finished
		}
		killed[victim] = true
		victim.Process.Kill()
		kills++
		from = n
		c.start(evaluate.Store)
	}
	c.wait(ctx, killed)
	t.Logf("store killed and restarted %d times", kills)
	if kills == 0 {
		t.Fatalf("the store finished before it could be killed; logs:\n%s", c.logs.String())
	}
	pg.HoldsTable(t, filepath.Join(c.out, "store", "embeddings.parquet"))
}
