package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Lag is how many records of topic the consumer group has yet to commit past, summed over the topic's
// partitions: each partition's end offset less the group's committed offset (or less its first offset,
// when the group has committed nothing there).
func (b *Broker) Lag(ctx context.Context, group, topic string) (int64, error) {
	n, err := b.Partitions(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("lag of %s on %s: %w", group, topic, err)
	}
	parts := make([]int, n)
	ends := make([]kafka.OffsetRequest, 0, 2*n)
	for p := range n {
		parts[p] = p
		ends = append(ends, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	cl := b.client()
	committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return 0, fmt.Errorf("lag of %s on %s: committed offsets: %w", group, topic, err)
	}
	if committed.Error != nil && !errors.Is(committed.Error, kafka.GroupIdNotFound) { // no group yet: nothing committed
		return 0, fmt.Errorf("lag of %s on %s: committed offsets: %w", group, topic, committed.Error)
	}
	offsets, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: ends}})
	if err != nil {
		return 0, fmt.Errorf("lag of %s on %s: end offsets: %w", group, topic, err)
	}
	next := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("lag of %s on %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		next[p.Partition] = p.CommittedOffset
	}
	var lag int64
	for _, p := range offsets.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("lag of %s on %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		from, ok := next[p.Partition]
		if !ok || from < p.FirstOffset {
			from = p.FirstOffset
		}
		lag += max(p.LastOffset-from, 0)
	}
	return lag, nil
}
