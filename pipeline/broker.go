// Package pipeline is xling's transport: the Kafka cluster (an embedded Kafka-protocol broker by default, or
// a real cluster), the topics, and the loop every stage runs — consume a topic as a member of a consumer
// group, decode Arrow batches, hand records to the stage, produce its output, dead-letter what cannot be
// processed, and count everything so a run's books balance.
//
// Stages use kafka-go for every read and write, so they cannot tell the embedded broker from a cluster.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is the Kafka cluster the stages talk through.
type Broker struct {
	Addrs    []string
	Log      *slog.Logger // where the Kafka clients' own errors go; nil discards them
	embedded *kfake.Cluster
}

// Connect starts the embedded broker when addrs is empty, else names the cluster at addrs.
func Connect(addrs []string, log *slog.Logger) (*Broker, error) {
	b := External(addrs)
	if len(addrs) == 0 {
		var err error
		if b, err = Embedded(); err != nil {
			return nil, err
		}
		if log != nil {
			log.Info("embedded broker", "addrs", b.Addrs)
		}
	}
	b.Log = log
	return b, nil
}

// errorLogger hands kafka-go's error messages (retried fetches, connection failures) to b.Log.
func (b *Broker) errorLogger(client string) kafka.Logger {
	if b.Log == nil {
		return nil
	}
	return kafka.LoggerFunc(func(format string, args ...any) {
		b.Log.Warn(fmt.Sprintf(format, args...), "client", client)
	})
}

// Embedded starts an in-process Kafka-protocol broker (franz-go's kfake) on a loopback port.
func Embedded() (*Broker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}))
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	return &Broker{Addrs: c.ListenAddrs(), embedded: c}, nil
}

// External is a real Kafka cluster reached through the given bootstrap addresses.
func External(addrs []string) *Broker { return &Broker{Addrs: addrs} }

// IsEmbedded reports whether the broker runs inside this process.
func (b *Broker) IsEmbedded() bool { return b.embedded != nil }

// Close stops an embedded broker; it does nothing for an external cluster.
func (b *Broker) Close() {
	if b.embedded != nil {
		b.embedded.Close()
	}
}

func (b *Broker) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(b.Addrs...), Timeout: 30 * time.Second}
}

// CreateTopics creates the evaluation topics that do not exist yet.
func (b *Broker) CreateTopics(ctx context.Context, topics Topics) error {
	return b.CreateTopic(ctx, topics.Partitions, topics.Replication, topics.All()...)
}

// CreateTopic creates the named topics, with the given partitions, where they do not exist yet.
func (b *Broker) CreateTopic(ctx context.Context, partitions, replication int, names ...string) error {
	var req kafka.CreateTopicsRequest
	for _, t := range names {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication})
	}
	resp, err := b.client().CreateTopics(ctx, &req)
	if err != nil {
		return fmt.Errorf("create topics on %v: %w", b.Addrs, err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return nil
}

// Partitions returns the number of partitions of a topic.
func (b *Broker) Partitions(ctx context.Context, topic string) (int, error) {
	resp, err := b.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata for %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata for %s: topic not found", topic)
}
