package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Memory is a Transport that keeps topics in memory, for unit tests of stages: no broker, no network, the
// same ordering and commit contract. A group's members share partitions round-robin; a member that joins
// or closes rebalances the group, and the others go on from the committed offsets.
type Memory struct {
	mu      sync.Mutex
	changed *sync.Cond
	topics  map[string][][]Message
	groups  map[string]*memGroup // by group + "\x00" + topic
	closed  bool
}

type memGroup struct {
	members    []*memConsumer
	committed  map[int]Offset
	generation int
}

// NewMemory returns an empty in-memory transport.
func NewMemory() *Memory {
	m := &Memory{topics: map[string][][]Message{}, groups: map[string]*memGroup{}}
	m.changed = sync.NewCond(&m.mu)
	return m
}

func (m *Memory) CreateTopics(_ context.Context, partitions int, names ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if _, ok := m.topics[n]; !ok {
			m.topics[n] = make([][]Message, max(partitions, 1))
		}
	}
	return nil
}

func (m *Memory) Partitions(_ context.Context, topic string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.topics[topic]
	if !ok {
		return 0, fmt.Errorf("memory transport: topic %s does not exist", topic)
	}
	return len(t), nil
}

func (m *Memory) Produce(_ context.Context, msgs ...Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range msgs {
		t, ok := m.topics[msg.Topic]
		if !ok {
			return fmt.Errorf("memory transport: produce to %s: topic does not exist", msg.Topic)
		}
		p := msg.Partition
		if p < 0 {
			p = partitionFor(msg.Key, len(t))
		}
		if p >= len(t) {
			return fmt.Errorf("memory transport: produce to %s: no partition %d", msg.Topic, p)
		}
		msg.Partition, msg.Offset = p, int64(len(t[p]))
		msg.Value = slices.Clone(msg.Value)
		t[p] = append(t[p], msg)
	}
	m.changed.Broadcast()
	return nil
}

// Messages returns a copy of everything on a topic, partition by partition: what a test reads back.
func (m *Memory) Messages(topic string) []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Message
	for _, p := range m.topics[topic] {
		out = append(out, p...)
	}
	return out
}

func (m *Memory) Join(_ context.Context, group, topic string) (Consumer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.topics[topic]; !ok {
		return nil, fmt.Errorf("memory transport: join %s: topic %s does not exist", group, topic)
	}
	key := group + "\x00" + topic
	g := m.groups[key]
	if g == nil {
		g = &memGroup{committed: map[int]Offset{}}
		m.groups[key] = g
	}
	c := &memConsumer{m: m, g: g, topic: topic}
	g.members = append(g.members, c)
	m.rebalance(g)
	return c, nil
}

// rebalance deals the group's partitions round-robin to its members, each starting from the committed
// offset. Called with m.mu held.
func (m *Memory) rebalance(g *memGroup) {
	g.generation++
	if len(g.members) == 0 {
		return
	}
	n := len(m.topics[g.members[0].topic])
	for _, c := range g.members {
		c.next = map[int]int64{}
	}
	for p := range n {
		c := g.members[p%len(g.members)]
		c.next[p] = g.committed[p].Next
	}
	m.changed.Broadcast()
}

func (m *Memory) Read(_ context.Context, topic string, partition int) (PartitionReader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.topics[topic]
	if !ok || partition >= len(t) {
		return nil, fmt.Errorf("memory transport: read %s/%d: no such partition", topic, partition)
	}
	return &memReader{m: m, topic: topic, partition: partition}, nil
}

func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.changed.Broadcast()
	m.mu.Unlock()
	return nil
}

// wait blocks until ready returns true (checked with m.mu held), ctx ends or the transport closes.
func (m *Memory) wait(ctx context.Context, ready func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.changed.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	for !ready() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if m.closed {
			return fmt.Errorf("memory transport: closed")
		}
		m.changed.Wait()
	}
	return nil
}

type memConsumer struct {
	m      *Memory
	g      *memGroup
	topic  string
	next   map[int]int64 // partitions held and the next offset of each
	closed bool
}

func (c *memConsumer) Fetch(ctx context.Context) (Message, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	var out Message
	err := c.m.wait(ctx, func() bool {
		if c.closed {
			return true
		}
		t := c.m.topics[c.topic]
		// The lowest partition with a message waiting: deterministic, like a fetch that returns in order.
		for _, p := range c.held() {
			if off := c.next[p]; off < int64(len(t[p])) {
				out = t[p][off]
				out.Generation = c.g.generation
				c.next[p] = off + 1
				return true
			}
		}
		return false
	})
	if err == nil && c.closed {
		err = fmt.Errorf("memory transport: consumer closed")
	}
	return out, err
}

func (c *memConsumer) held() []int {
	ps := make([]int, 0, len(c.next))
	for p := range c.next {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func (c *memConsumer) Assigned() ([]int, int) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.held(), c.g.generation
}

func (c *memConsumer) Committed(context.Context) (map[int]string, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	out := map[int]string{}
	for p, off := range c.g.committed {
		out[p] = off.Meta
	}
	return out, nil
}

func (c *memConsumer) Resume(partition int) string {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.g.committed[partition].Meta
}

func (c *memConsumer) Commit(_ context.Context, generation int, next map[int]Offset) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if generation != c.g.generation {
		return nil
	}
	for p, off := range next {
		if _, ok := c.next[p]; ok {
			c.g.committed[p] = off
		}
	}
	return nil
}

func (c *memConsumer) Close() error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.g.members = slices.DeleteFunc(c.g.members, func(x *memConsumer) bool { return x == c })
	c.m.rebalance(c.g)
	return nil
}

type memReader struct {
	m         *Memory
	topic     string
	partition int
	next      int64
}

func (r *memReader) Next(ctx context.Context) (Message, error) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	var out Message
	err := r.m.wait(ctx, func() bool {
		p := r.m.topics[r.topic][r.partition]
		if r.next < int64(len(p)) {
			out = p[r.next]
			r.next++
			return true
		}
		return false
	})
	return out, err
}

func (r *memReader) Close() error { return nil }
