package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
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
