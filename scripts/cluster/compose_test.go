package cluster

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// TestComposeMatchesTheTestedCluster keeps compose.yaml, the route past one machine that CI cannot run
// (no docker engine), on the version and settings of scripts/kafka/kafka.sh, the cluster the tests run.
func TestComposeMatchesTheTestedCluster(t *testing.T) {
	root := testenv.RepoRoot(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	compose, script := read("compose.yaml"), read("scripts/kafka/kafka.sh")
	version := regexp.MustCompile(`(?m)^KAFKA_VERSION=(\S+)$`).FindStringSubmatch(script)
	if version == nil {
		t.Fatal("kafka.sh names no KAFKA_VERSION")
	}
	if !strings.Contains(compose, "image: apache/kafka:"+version[1]+"\n") {
		t.Errorf("compose.yaml's image is not apache/kafka:%s", version[1])
	}
	if pom := read("scripts/kafka/pom.xml"); !strings.Contains(pom, "<kafka.version>"+version[1]+"</kafka.version>") {
		t.Errorf("pom.xml's kafka.version is not %s", version[1])
	}
	// Each broker setting of kafka.sh's server.properties that compose.yaml must repeat, as KAFKA_<NAME>.
	for _, key := range []string{"process.roles", "num.partitions", "default.replication.factor", "min.insync.replicas",
		"offsets.topic.replication.factor", "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
		"group.initial.rebalance.delay.ms", "auto.create.topics.enable", "message.max.bytes"} {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=(.*)$`).FindStringSubmatch(script)
		if m == nil {
			t.Errorf("kafka.sh sets no %s", key)
			continue
		}
		env := "KAFKA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		c := regexp.MustCompile(`(?m)^\s*` + env + `: "?([^"\n]*)"?$`).FindStringSubmatch(compose)
		if c == nil || c[1] != m[1] {
			t.Errorf("compose.yaml: %s = %v, kafka.sh's %s = %s", env, c, key, m[1])
		}
	}
	if n := strings.Count(compose, "KAFKA_NODE_ID:"); n != 3 {
		t.Errorf("compose.yaml has %d nodes, kafka.sh 3", n)
	}
}
