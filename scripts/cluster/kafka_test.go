package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"xling/evaluate"
	"xling/internal/testenv"
)

// TestMain stops the real Kafka cluster, if a test started one, once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	kafkaOnce.stop()
	os.Exit(code)
}

// kafka is the 3-broker Apache Kafka cluster of scripts/kafka/kafka.sh, started once for the package in a
// folder and on ports of its own, so that it never meets a cluster an operator started with `make kafka`.
type kafka struct {
	script  string
	dir     string
	port    int
	env     map[string]string // kafka.sh env's assignments
	brokers string            // PLAINTEXT bootstrap addresses
}

type kafkaStarter struct {
	once sync.Once
	k    *kafka
	err  error
}

var kafkaOnce kafkaStarter

// realKafka returns the package's cluster, starting it on first use. Without Java or the broker's jars
// (make kafka-jars) the test is skipped, or failed under XLING_REQUIRE_ORACLES=1.
func realKafka(t *testing.T) *kafka {
	t.Helper()
	if testing.Short() {
		t.Skip("a real Kafka cluster: not in -short")
	}
	testenv.RequireTool(t, "java")
	root := testenv.RepoRoot(t)
	libs, _ := filepath.Glob(filepath.Join(root, ".cache", "kafka-*", "libs", ".verified"))
	if len(libs) == 0 {
		testenv.Missing(t, "Apache Kafka's jars (make kafka-jars)")
	}
	kafkaOnce.once.Do(func() { kafkaOnce.k, kafkaOnce.err = startKafka(root) })
	if kafkaOnce.err != nil {
		t.Fatal(kafkaOnce.err)
	}
	return kafkaOnce.k
}

func startKafka(root string) (*kafka, error) {
	dir, err := os.MkdirTemp("", "xling-kafka-test-")
	if err != nil {
		return nil, err
	}
	port, err := freeBase()
	if err != nil {
		return nil, err
	}
	k := &kafka{script: filepath.Join(root, "scripts", "kafka", "kafka.sh"), dir: dir, port: port}
	if out, err := k.do("start"); err != nil {
		k.do("stop")
		return nil, fmt.Errorf("start Kafka (port %d, %s): %v\n%s", port, dir, err, out)
	}
	out, err := k.do("env")
	if err != nil {
		return nil, fmt.Errorf("kafka.sh env: %v\n%s", err, out)
	}
	k.env = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if key, v, ok := strings.Cut(line, "="); ok {
			k.env[key] = v
		}
	}
	k.brokers = k.env["XLING_KAFKA_BROKERS"]
	if out, err := k.do("acls"); err != nil {
		return nil, fmt.Errorf("kafka.sh acls: %v\n%s", err, out)
	}
	return k, nil
}

// do runs kafka.sh with args against this cluster.
func (k *kafka) do(args ...string) (string, error) {
	cmd := exec.Command(k.script, args...)
	cmd.Env = append(os.Environ(), "XLING_KAFKA_DIR="+k.dir, fmt.Sprintf("XLING_KAFKA_PORT=%d", k.port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (s *kafkaStarter) stop() {
	if s.k == nil {
		return
	}
	if out, err := s.k.do("stop"); err != nil {
		fmt.Fprintf(os.Stderr, "stop Kafka: %v\n%s", err, out)
	}
	os.RemoveAll(s.k.dir)
}

// freeBase finds a port p with p, p+1, p+2 (PLAINTEXT), p+100.. (CONTROLLER) and p+200.. (SASL_SSL) free.
func freeBase() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p > 65535-210 {
			continue
		}
		free := true
		for _, off := range []int{0, 1, 2, 100, 101, 102, 200, 201, 202} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+off))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free block of ports for Kafka")
}

// TestRealKafkaRunMatchesEmbedded runs `xling run` against the real cluster and checks its tables equal the
// embedded broker's run, value for value: metrics, rankings and the embeddings by count and checksum.
func TestRealKafkaRunMatchesEmbedded(t *testing.T) {
	e := setup(t)
	k := realKafka(t)
	ref := e.reference(t)
	out := t.TempDir()
	args := append([]string{"run", "--brokers", k.brokers, "--topic-prefix", "xtest.run."}, e.args(out, "real")...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if b, err := exec.CommandContext(ctx, e.bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("xling run --brokers %s: %v\n%s", k.brokers, err, b)
	}
	t.Logf("xling run on Kafka %s: %s", k.env["XLING_KAFKA_VERSION"], time.Since(start).Round(time.Millisecond))
	compare(t, "xling run on real Kafka", ref, filepath.Join(out, "real"))
}

// TestRealKafkaCrash is TestCrash on the real cluster: -kills workers killed (kill -9) and restarted.
func TestRealKafkaCrash(t *testing.T) {
	e := setup(t)
	k := realKafka(t)
	ref := e.reference(t)
	for i := range *faultRuns {
		t.Run(fmt.Sprint(i+1), func(t *testing.T) {
			crash(t, e, ref, k.brokers, []string{"--topic-prefix", fmt.Sprintf("xtest.crash%d.", i+1)})
		})
	}
}

// A brokerFault strikes the cluster while a run is under way. It returns what it did, or an error when it
// could not strike (the run ended first, say), which fails the test: a fault that never struck proves nothing.
type brokerFault func(t *testing.T, k *kafka, c *cluster, prefix string) (string, error)

// TestRealKafkaBrokerFaults runs the stages as workers on the real cluster while brokers die and restart,
// or workers join and leave, and checks each run's tables equal `xling run`'s on the embedded broker.
func TestRealKafkaBrokerFaults(t *testing.T) {
	e := setup(t)
	k := realKafka(t)
	ref := e.reference(t)
	for _, tc := range []struct {
		name  string
		fault brokerFault
	}{
		{"leader killed and restarted", killLeader},
		{"rolling restart", rollingRestart},
		{"rebalance storm", rebalanceStorm},
	} {
		identical := 0
		for i := range *faultRuns {
			t.Run(fmt.Sprintf("%s/%d", tc.name, i+1), func(t *testing.T) {
				prefix := fmt.Sprintf("xtest.%s%d.", strings.ReplaceAll(tc.name, " ", "-"), i+1)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
				defer cancel()
				c := e.cluster(t, k.brokers, "fault")
				c.extra = []string{"--topic-prefix", prefix}
				for _, s := range evaluate.StageNames() {
					c.start(s)
				}
				did, err := tc.fault(t, k, c, prefix)
				if err != nil {
					t.Fatalf("%s did not strike: %v", tc.name, err)
				}
				t.Log(did)
				c.wait(ctx, c.left)
				if out, err := k.do("wait"); err != nil {
					t.Fatalf("the cluster did not recover: %v\n%s", err, out)
				}
				compare(t, tc.name, ref, filepath.Join(c.out, "fault"))
				if !t.Failed() {
					identical++
				}
			})
		}
		t.Logf("%s: %d of %d identical", tc.name, identical, *faultRuns)
	}
}

// hold stops the run's ingest worker (SIGSTOP) once it has ingested its first language, until the returned
// function resumes it, so that a fault that takes longer than a small run still strikes mid-run: the stages
// downstream keep draining what ingest wrote, and ingest resumes on connections the fault broke. It fails
// when ingest finishes first.
func (c *cluster) hold() (func(), error) {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		started := strings.Contains(c.logs.String(), evaluate.Ingest+": ") && strings.Contains(c.logs.String(), "msg=ingested")
		var ingest *exec.Cmd
		for cmd, s := range c.procs {
			if s == evaluate.Ingest {
				ingest = cmd
			}
		}
		c.mu.Unlock()
		switch {
		case ingest == nil:
			return nil, errors.New("no ingest worker")
		case started:
			if err := ingest.Process.Signal(syscall.SIGSTOP); err != nil {
				return nil, fmt.Errorf("stop ingest: %w", err)
			}
			return func() { ingest.Process.Signal(syscall.SIGCONT) }, nil
		case time.Now().After(deadline):
			return nil, errors.New("ingest ingested nothing in 2 minutes")
		}
	}
}

// running says how many workers are still at work.
func (c *cluster) running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.procs)
}

// leaders maps each broker id to the partitions of the run's topics (those named prefix*) it leads.
func (k *kafka) leaders(prefix string) (map[int][]string, error) {
	conn, err := kafkago.Dial("tcp", strings.Split(k.brokers, ",")[0])
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions()
	if err != nil {
		return nil, err
	}
	out := map[int][]string{}
	for _, p := range parts {
		if strings.HasPrefix(p.Topic, prefix) && p.Leader.ID > 0 {
			out[p.Leader.ID] = append(out[p.Leader.ID], fmt.Sprintf("%s/%d", p.Topic, p.ID))
		}
	}
	return out, nil
}

// killLeader waits until the run's topics exist, then kills (kill -9) the broker that leads most of their
// partitions, waits, and restarts it.
func killLeader(t *testing.T, k *kafka, c *cluster, prefix string) (string, error) {
	resume, err := c.hold()
	if err != nil {
		return "", err
	}
	defer resume()
	var leaders map[int][]string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if leaders, err = k.leaders(prefix); err == nil && len(leaders) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no partition of %s* has a leader after a minute (%v)", prefix, err)
		}
	}
	victim := 0
	for id, ps := range leaders {
		if victim == 0 || len(ps) > len(leaders[victim]) {
			victim = id
		}
	}
	if out, err := k.do("kill", fmt.Sprint(victim)); err != nil {
		return "", fmt.Errorf("kill broker %d: %v\n%s", victim, err, out)
	}
	time.Sleep(5 * time.Second) // the controller moves leadership; clients meet dead connections
	if out, err := k.do("restart", fmt.Sprint(victim)); err != nil {
		return "", fmt.Errorf("restart broker %d: %v\n%s", victim, err, out)
	}
	return fmt.Sprintf("killed broker %d (leader of %d of the run's partitions) with %d workers running, restarted it", victim, len(leaders[victim]), c.running()), nil
}

// rollingRestart stops (SIGTERM) and restarts each broker in turn, waiting for the cluster to be healthy
// between them, as an operator's upgrade does.
func rollingRestart(t *testing.T, k *kafka, c *cluster, prefix string) (string, error) {
	resume, err := c.hold()
	if err != nil {
		return "", err
	}
	defer resume()
	for n := 1; n <= 3; n++ {
		if c.running() == 0 {
			return "", fmt.Errorf("the run ended before broker %d's restart", n)
		}
		if out, err := k.do("stop-node", fmt.Sprint(n)); err != nil {
			return "", fmt.Errorf("stop broker %d: %v\n%s", n, err, out)
		}
		if out, err := k.do("restart", fmt.Sprint(n)); err != nil {
			return "", fmt.Errorf("restart broker %d: %v\n%s", n, err, out)
		}
	}
	return fmt.Sprintf("restarted brokers 1, 2 and 3 in turn with %d workers running", c.running()), nil
}

// rebalanceStorm starts an extra worker of a random stage every two seconds and stops (SIGTERM) or kills
// an extra one, so that every stage's group rebalances again and again while the run goes on.
func rebalanceStorm(t *testing.T, k *kafka, c *cluster, prefix string) (string, error) {
	resume, err := c.hold()
	if err != nil {
		return "", err
	}
	rng := rand.New(rand.NewPCG(*seed, 2))
	stages := []string{evaluate.Tokenize, evaluate.Encode, evaluate.Score}
	var extra []*exec.Cmd
	joins, leaves := 0, 0
	for i := range 16 {
		if i == 8 {
			resume() // the second half of the storm meets a run that is moving again
		}
		time.Sleep(time.Duration(1500+rng.IntN(1000)) * time.Millisecond)
		if c.running() == 0 {
			break
		}
		if len(extra) > 0 && rng.IntN(2) == 0 {
			v := extra[0]
			extra = extra[1:]
			c.mu.Lock()
			c.left[v] = true
			c.mu.Unlock()
			if rng.IntN(2) == 0 {
				v.Process.Signal(syscall.SIGTERM)
			} else {
				v.Process.Kill()
			}
			leaves++
			continue
		}
		extra = append(extra, c.start(stages[rng.IntN(len(stages))]))
		joins++
	}
	resume()
	if joins+leaves < 8 {
		return "", fmt.Errorf("the run ended after %d joins and %d leaves", joins, leaves)
	}
	return fmt.Sprintf("%d workers joined and %d left during the run", joins, leaves), nil
}
