package pipeline

import (
	"context"
	"hash/fnv"
	"strconv"
)

// Header is a message header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one message on a topic, as produced and as consumed. Partition and Offset are set on
// consumed messages; on produced ones Partition < 0 means "by key".
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	// Generation is the consumer-group generation a consumed message was read in: state built from it
	// is valid, and its offsets may be committed, only while that generation lasts.
	Generation int
}

// Header returns the value of the first header named key.
func (m Message) Header(key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// Source says where a message came from, for dead letters and errors.
func (m Message) Source() string {
	return m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10)
}

// Transport is what stages talk through: a Kafka cluster (the embedded broker or a real one) or, for unit
// tests, memory. Both keep Kafka's contract: a partition is an ordered log, a consumer group shares a
// topic's partitions among its members, and a committed offset is where a member taking a partition over
// starts.
type Transport interface {
	// CreateTopics creates the topics that do not exist yet, each with the given partition count.
	CreateTopics(ctx context.Context, partitions int, names ...string) error
	// Partitions returns the number of partitions of a topic.
	Partitions(ctx context.Context, topic string) (int, error)
	// Produce appends messages to their topics, durably, in order per partition; it returns once every
	// message is acknowledged.
	Produce(ctx context.Context, msgs ...Message) error
	// Join makes this process a member of a consumer group on topic.
	Join(ctx context.Context, group, topic string) (Consumer, error)
	// Read reads one partition from its first offset, outside any group (replays).
	Read(ctx context.Context, topic string, partition int) (PartitionReader, error)
	// Close releases the transport's connections (and stops an embedded broker).
	Close() error
}

// Consumer is one member of a consumer group on one topic.
type Consumer interface {
	// Fetch returns the next message from the partitions this member holds. After a rebalance it goes on
	// with the partitions of the new assignment, from their committed offsets.
	Fetch(ctx context.Context) (Message, error)
	// Assigned returns the partitions this member holds now; fresh is true once per assignment, on the
	// first call after it changed.
	Assigned() (partitions []int, generation int)
	// Commit stores, per partition, the offset of the next message to read and what a member taking the
	// partition over must know of what came before it (Offset.Meta), for state built in generation.
	// Nothing is stored once that generation has ended, nor for partitions this member no longer holds:
	// their owner reads again from what was committed before.
	Commit(ctx context.Context, generation int, next map[int]Offset) error
	// Resume returns the Meta committed with a partition's offset ("" if none), once the partition is
	// assigned to this member.
	Resume(partition int) string
	// Committed returns the Meta committed with the offset of every partition of the topic, held by this
	// member or not: what the group as a whole has finished.
	Committed(ctx context.Context) (map[int]string, error)
	Close() error
}

// Offset is a committed position: the next offset to read, and metadata stored with it.
type Offset struct {
	Next int64
	Meta string
}

// PartitionReader reads one partition in order.
type PartitionReader interface {
	Next(ctx context.Context) (Message, error)
	Close() error
}

// partitionFor picks a key's partition: FNV-1a of the key, the same for every transport, so a key's
// records stay on one partition (and in order) whatever carries them.
func partitionFor(key []byte, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write(key)
	return int(h.Sum32() % uint32(n))
}
