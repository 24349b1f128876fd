package pipeline_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"xling/internal/kafkatest"
	"xling/pipeline"
)

// TestClusterMisfitsAreNamedBeforeWork checks, on Apache Kafka, that what a cluster or someone else's topic
// gets wrong is an error naming the topic and the setting to change, before any data is lost: a topic with
// another partition count, a topic whose messages must be smaller than xling's, a topic that asks for more
// in-sync replicas than it has (Kafka 3.9 itself accepts acks=all writes there, kcat's too: xling refuses
// the topic, as it would one with brokers down), and a cluster that is not there at all.
func TestClusterMisfitsAreNamedBeforeWork(t *testing.T) {
	k := kafkatest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addrs := strings.Split(k.Brokers, ",")
	prefix := "misfit" + time.Now().Format("150405.000000") + "."
	// Someone else's topics, made with settings xling cannot work with.
	admin := &kafka.Client{Addr: kafka.TCP(addrs...)}
	foreign := []kafka.TopicConfig{
		{Topic: prefix + "two", NumPartitions: 2, ReplicationFactor: 3},
		{Topic: prefix + "small", NumPartitions: 4, ReplicationFactor: 3, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "65536"}}},
		{Topic: prefix + "isr", NumPartitions: 4, ReplicationFactor: 3, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: "4"}}},
	}
	resp, err := admin.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: foreign})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	b, err := pipeline.Connect(ctx, pipeline.BrokerConfig{Addrs: addrs, Retry: pipeline.Retry{GiveUp: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		name string
		do   func() error
		want []string
	}{
		{"a topic with another partition count", func() error { return b.CreateTopics(ctx, 4, prefix+"two") },
			[]string{prefix + "two", "exists with 2 partitions", "needs 4"}},
		{"a topic whose messages must be smaller", func() error { return b.CreateTopics(ctx, 4, prefix+"small") },
			[]string{prefix + "small", "max.message.bytes", "65536"}},
		{"a topic that wants more in-sync replicas than it has", func() error { return b.CreateTopics(ctx, 4, prefix+"isr") },
			[]string{prefix + "isr", "3 in-sync replicas", "min.insync.replicas is 4", "brokers that are down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil {
				t.Fatalf("no error; want one naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	t.Run("a cluster that is not there", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := l.Addr().String()
		l.Close()
		start := time.Now()
		_, err = pipeline.Connect(ctx, pipeline.BrokerConfig{Addrs: []string{gone}, DialTimeout: 2 * time.Second})
		if err == nil || !strings.Contains(err.Error(), gone) {
			t.Fatalf("Connect(%s) = %v; want an error naming the address", gone, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %s, over the 2 s dial timeout", took)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			t.Errorf("the test's own deadline ended it: %v", err)
		}
	})
}
