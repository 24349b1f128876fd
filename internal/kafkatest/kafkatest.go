// Package kafkatest gives tests the project's real Apache Kafka cluster: the three KRaft brokers of
// scripts/kafka/kafka.sh, started once per test binary in a folder and on ports of its own, so that it
// never meets a cluster an operator started with `make kafka`. A package that uses it stops the cluster
// when its tests end by calling Main from its TestMain.
package kafkatest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"xling/internal/testenv"
)

// Cluster is a running cluster.
type Cluster struct {
	// Brokers are the PLAINTEXT bootstrap addresses (no authentication; the ANONYMOUS principal is a
	// super user), SecureBrokers the SASL_SSL ones where ACLs hold.
	Brokers, SecureBrokers string
	// Version is the Kafka release.
	Version string
	// CAFile signs the brokers' certificates; PasswordFile holds the xling user's SCRAM password (its ACLs
	// allow topics and groups named xsec.*).
	CAFile, PasswordFile string

	script, dir string
	port        int
}

// started is the cluster of this test binary.
type started struct {
	once sync.Once
	c    *Cluster
	err  error
}

// This process's cluster: a test binary starts at most one, and Main stops it.
var proc started

// Start returns this test binary's cluster, starting it on first use. Without Java or the broker's jars
// (make kafka-jars) the test is skipped, or failed under XLING_REQUIRE_ORACLES=1.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("a real Kafka cluster: not in -short")
	}
	testenv.RequireTool(t, "java")
	root := testenv.RepoRoot(t)
	if jars, _ := filepath.Glob(filepath.Join(root, ".cache", "kafka-*", "libs", ".verified")); len(jars) == 0 {
		testenv.Missing(t, "Apache Kafka's jars (make kafka-jars)")
	}
	proc.once.Do(func() { proc.c, proc.err = start(root) })
	if proc.err != nil {
		t.Fatal(proc.err)
	}
	return proc.c
}

// Main runs the tests and then stops the cluster, if one was started: call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if c := proc.c; c != nil {
		if out, err := c.Do("stop"); err != nil {
			fmt.Fprintf(os.Stderr, "kafkatest: stop Kafka: %v\n%s", err, out)
		}
		os.RemoveAll(c.dir)
	}
	return code
}

func start(root string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "xling-kafka-test-")
	if err != nil {
		return nil, err
	}
	port, err := freeBase()
	if err != nil {
		return nil, err
	}
	c := &Cluster{script: filepath.Join(root, "scripts", "kafka", "kafka.sh"), dir: dir, port: port}
	if out, err := c.Do("start"); err != nil {
		c.Do("stop")
		return nil, fmt.Errorf("start Kafka (port %d, %s): %v\n%s", port, dir, err, out)
	}
	out, err := c.Do("env")
	if err != nil {
		return nil, fmt.Errorf("kafka.sh env: %v\n%s", err, out)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	c.Brokers, c.SecureBrokers, c.Version = env["XLING_KAFKA_BROKERS"], env["XLING_KAFKA_SECURE_BROKERS"], env["XLING_KAFKA_VERSION"]
	c.CAFile, c.PasswordFile = env["XLING_KAFKA_TLS_CA"], env["XLING_KAFKA_PASSWORD_FILE"]
	if out, err := c.Do("acls"); err != nil {
		return nil, fmt.Errorf("kafka.sh acls: %v\n%s", err, out)
	}
	return c, nil
}

// Do runs scripts/kafka/kafka.sh with args against this cluster: "kill 2", "restart 2", "stop-node 1",
// "wait" and so on; it returns the script's output.
func (c *Cluster) Do(args ...string) (string, error) {
	cmd := exec.Command(c.script, args...)
	// The brokers stop when this process ends, even if it never reaches Main's stop (a test timeout panics).
	cmd.Env = append(os.Environ(), "XLING_KAFKA_DIR="+c.dir, fmt.Sprintf("XLING_KAFKA_PORT=%d", c.port),
		fmt.Sprintf("XLING_KAFKA_OWNER_PID=%d", os.Getpid()))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Leaders maps each broker id (1-3, the node numbers Do takes) to the partitions of the topics named
// prefix* that it leads.
func (c *Cluster) Leaders(prefix string) (map[int][]string, error) {
	conn, err := kafka.Dial("tcp", strings.Split(c.Brokers, ",")[0])
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

// freeBase finds a port p with p, p+1, p+2 (PLAINTEXT), p+100.. (CONTROLLER) and p+200.. (SASL_SSL) free,
// below the kernel's range of ephemeral ports: a port in that range that is free now may be taken by any
// outgoing connection before the broker binds it (it happened, to the cluster's own JVMs' connections).
func freeBase() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	lo, hi := 10000, low-210
	if hi <= lo {
		return 0, fmt.Errorf("kafkatest: no room for Kafka's ports below the ephemeral range (from %d)", low)
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	for range 100 {
		p := lo + r.IntN(hi-lo)
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
	return 0, fmt.Errorf("kafkatest: no free block of ports for Kafka in [%d, %d)", lo, hi)
}
