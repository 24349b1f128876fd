package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a Kafka cluster reached with kafka-go: the embedded Kafka-protocol broker (franz-go's kfake)
// or a real cluster. It is the Transport every deployment uses; kafka-go stays inside this file.
type Broker struct {
	Addrs     []string
	log       *slog.Logger
	embedded  *kfake.Cluster
	w         *kafka.Writer
	sec       Security
	dialer    *kafka.Dialer    // readers, consumer groups and pings
	transport *kafka.Transport // the writer and the admin client
	retry     *retrier
	unretain  func() // Connect's embedded broker: stops its retention, closes it and removes its directory
	unexpire  func() // the embedded broker: stops expiring silent group members
}

// BrokerConfig says which cluster to use.
type BrokerConfig struct {
	// Addrs are bootstrap addresses; empty starts the embedded broker on a loopback port.
	Addrs []string
	// DialTimeout bounds the first contact with a cluster; 0 means 10s. A cluster that does not answer
	// in time is an error naming its address, never a hang.
	DialTimeout time.Duration
	// Security is SASL and TLS for an external cluster (the embedded broker has neither).
	Security Security
	// Retry is how broker errors that may pass are retried, and for how long at most.
	Retry Retry
	// Log receives the Kafka clients' own errors (retries are logged at debug level); nil discards them.
	Log *slog.Logger
}

// Connect starts the embedded broker when cfg.Addrs is empty, else checks that the cluster answers. The
// embedded broker keeps its topics in files under a new temporary directory, removed on Close (and, if the
// process is killed, by the next Connect on the machine: see brokerDir), and drops what every consumer
// group reading a topic has committed (see retention).
func Connect(ctx context.Context, cfg BrokerConfig) (*Broker, error) {
	if len(cfg.Addrs) == 0 {
		if !cfg.Security.IsZero() {
			return nil, errors.New("kafka: SASL and TLS settings need an external cluster (brokers), the embedded broker has neither")
		}
		dir, release, err := brokerDir(os.TempDir(), cfg.Log)
		if err != nil {
			return nil, err
		}
		b, err := embedded("127.0.0.1:0", 1, cfg.Log, kfake.DataDir(dir))
		if err != nil {
			os.RemoveAll(dir)
			release()
			return nil, err
		}
		b.retry = newRetrier(cfg.Retry)
		stop := b.retain(retention{}, dir)
		b.unretain = func() { stop(); release() }
		if cfg.Log != nil {
			cfg.Log.Info("embedded broker", "addrs", b.Addrs)
		}
		return b, nil
	}
	timeout := cfg.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sec, err := cfg.Security.build()
	if err != nil {
		return nil, err
	}
	b := newBroker(cfg.Addrs, cfg.Log, nil, cfg.Security, sec, timeout, cfg.Retry)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := b.Ping(dctx); err != nil {
		b.Close()
		if denied(err) {
			return nil, fmt.Errorf("kafka refused the connection: %w", err)
		}
		return nil, fmt.Errorf("no Kafka broker answered within %s: %w", timeout, err)
	}
	return b, nil
}

// Ping asks the cluster for its brokers on a new connection (kafka-go's client answers metadata requests
// from a cache, which outlives the cluster): an error says no broker answered before ctx's deadline, or
// each refused this client (its TLS or SASL).
func (b *Broker) Ping(ctx context.Context) error {
	var errs []error
	for _, a := range b.Addrs {
		conn, err := b.dialer.DialContext(ctx, "tcp", a)
		if err == nil {
			// A listener that is not Kafka fails here, or never answers: the deadline bounds the wait.
			if dl, ok := ctx.Deadline(); ok {
				err = conn.SetDeadline(dl)
			}
			if err == nil {
				_, err = conn.Brokers()
			}
			conn.Close()
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("broker %s: %w", a, b.sec.explain(err, access{op: "describe"})))
	}
	return errors.Join(errs...)
}

// Embedded starts an in-process Kafka-protocol broker (franz-go's kfake) of n nodes, the first listening
// on listen (host:port; port 0 picks one), with any further kfake options. It keeps every topic in memory
// (in files with kfake.DataDir): it is for one machine.
func Embedded(listen string, n int, opts ...kfake.Opt) (*Broker, error) {
	return embedded(listen, n, nil, opts...)
}

func embedded(listen string, n int, log *slog.Logger, opts ...kfake.Opt) (*Broker, error) {
	c, err := startCluster(listen, n, opts...)
	if err != nil {
		return nil, err
	}
	s := newSessions(c, log)
	b := newBroker(c.ListenAddrs(), log, c, Security{}, secured{}, 10*time.Second, Retry{})
	b.unexpire = b.expireSessions(s)
	return b, nil
}

// startCluster starts kfake with n nodes, the first on listen, and opts (tests add SASL, TLS, ACLs).
func startCluster(listen string, n int, opts ...kfake.Opt) (*kfake.Cluster, error) {
	first := true
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(max(n, 1)),
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(segmentBytes)}),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			addr := "127.0.0.1:0"
			if first {
				addr, first = listen, false
			}
			return net.Listen(network, addr)
		})}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", listen, err)
	}
	return c, nil
}

func newBroker(addrs []string, log *slog.Logger, c *kfake.Cluster, cfg Security, sec secured, dialTimeout time.Duration, retry Retry) *Broker {
	b := &Broker{Addrs: addrs, log: log, embedded: c, sec: cfg, retry: newRetrier(retry),
		dialer:    &kafka.Dialer{Timeout: dialTimeout, DualStack: true, SASLMechanism: sec.mech, TLS: sec.tls},
		transport: &kafka.Transport{DialTimeout: dialTimeout, SASL: sec.mech, TLS: sec.tls},
	}
	b.w = &kafka.Writer{
		Addr:         kafka.TCP(addrs...),
		Transport:    b.transport,
		Balancer:     balancer{},
		BatchTimeout: time.Millisecond,
		// A produced record batch must fit the broker's message.max.bytes (1 MiB by default) as a message
		// does, so kafka-go splits a call's messages into batches of this size.
		BatchBytes:   1 << 20,
		RequiredAcks: kafka.RequireAll,
		// kafka-go retries a failed batch itself, quickly, without jitter; past that, Produce retries
		// (Retry), knowing which messages failed.
		MaxAttempts:            3,
		AllowAutoTopicCreation: false,
		ErrorLogger:            b.errorLogger("producer"),
	}
	return b
}

// Cluster returns the embedded broker, nil for an external cluster (tests use its control hooks).
func (b *Broker) Cluster() *kfake.Cluster { return b.embedded }

// Close flushes the producer and stops an embedded broker.
func (b *Broker) Close() error {
	err := b.w.Close()
	if b.unexpire != nil {
		b.unexpire()
	}
	b.transport.CloseIdleConnections()
	if b.unretain != nil {
		b.unretain()
	}
	if b.embedded != nil {
		b.embedded.Close()
	}
	return err
}

// errorLogger hands kafka-go's error messages to the log at debug level: the client retries them, and a
// failure that persists surfaces as an error from the call that needed it.
func (b *Broker) errorLogger(client string) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		if b.log != nil {
			b.log.Debug(fmt.Sprintf(format, args...), "client", client)
		}
	})
}

func (b *Broker) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(b.Addrs...), Timeout: 30 * time.Second, Transport: b.transport}
}

// CreateTopics makes the topics that do not exist yet, each with partitions partitions and the cluster's
// default replication factor (default.replication.factor: 3 on the project's cluster, as compose.yaml), and
// checks those that do: a topic someone else made with another partition count, or with a message limit
// below xling's, is an error naming the topic and what to set, before any work is lost.
func (b *Broker) CreateTopics(ctx context.Context, partitions int, names ...string) error {
	partitions = max(partitions, 1)
	var req kafka.CreateTopicsRequest
	for _, t := range names {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1})
	}
	var resp *kafka.CreateTopicsResponse
	err := b.retry.do(ctx, func(ctx context.Context) (err error) {
		resp, err = b.client().CreateTopics(ctx, &req)
		return err
	}, b.retrying("create topics"))
	if err != nil {
		return fmt.Errorf("create topics on %v: %w", b.Addrs, b.sec.explain(err, access{op: "create"}))
	}
	var existing []string
	for name, err := range resp.Errors {
		switch {
		case errors.Is(err, kafka.TopicAlreadyExists):
			existing = append(existing, name)
		case err != nil:
			return fmt.Errorf("create topic %s on %v: %w", name, b.Addrs, b.sec.explain(err, access{op: "create", topic: name}))
		}
	}
	slices.Sort(existing)
	for _, name := range existing {
		n, err := b.Partitions(ctx, name)
		if err != nil {
			return err
		}
		if n != partitions {
			return fmt.Errorf("topic %s on %v exists with %d partitions, this deployment needs %d: delete the topic, or use another --topic-prefix", name, b.Addrs, n, partitions)
		}
	}
	return b.checkTopicConfigs(ctx, names)
}

// minMessageLimit is the smallest topic max.message.bytes that takes xling's largest message: MaxMessageBytes
// of Arrow data plus room for the key, headers and the record batch's own framing.
const minMessageLimit = MaxMessageBytes + 8<<10

// checkTopicConfigs asks the cluster for each topic's max.message.bytes and min.insync.replicas, so that a
// limit too small for xling's messages, or a partition with fewer in-sync replicas than the topic demands
// (brokers down), fails here rather than at the first large batch or the first write, mid-run.
func (b *Broker) checkTopicConfigs(ctx context.Context, topics []string) error {
	req := kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: []string{"max.message.bytes", "min.insync.replicas"}})
	}
	// As in Partitions, a topic's own error is retried with the request: a topic just made by another
	// worker may be unknown to the broker asked for a moment.
	var resp *kafka.DescribeConfigsResponse
	err := b.retry.do(ctx, func(ctx context.Context) (err error) {
		if resp, err = b.client().DescribeConfigs(ctx, &req); err != nil {
			return err
		}
		var errs []error
		for _, r := range resp.Resources {
			if r.Error != nil {
				errs = append(errs, fmt.Errorf("topic %s: %w", r.ResourceName, r.Error))
			}
		}
		return errors.Join(errs...)
	}, b.retrying("describe topic configs"))
	if err != nil {
		return fmt.Errorf("describe topic configs on %v: %w", b.Addrs, b.sec.explain(err, access{op: "describe configs"}))
	}
	minISR := map[string]int{}
	for _, r := range resp.Resources {
		for _, e := range r.ConfigEntries {
			v, err := strconv.Atoi(e.ConfigValue)
			if err != nil {
				return fmt.Errorf("topic %s on %v: %s %q is not a number", r.ResourceName, b.Addrs, e.ConfigName, e.ConfigValue)
			}
			switch e.ConfigName {
			case "max.message.bytes":
				if v < minMessageLimit {
					return fmt.Errorf("topic %s on %v takes messages of at most %d bytes (max.message.bytes), xling's are up to %d: set the topic's max.message.bytes to %d or more", r.ResourceName, b.Addrs, v, minMessageLimit, minMessageLimit)
				}
			case "min.insync.replicas":
				minISR[r.ResourceName] = v
			}
		}
	}
	var meta *kafka.MetadataResponse
	err = b.retry.do(ctx, func(ctx context.Context) (err error) {
		meta, err = b.client().Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		return err
	}, b.retrying("metadata"))
	if err != nil {
		return fmt.Errorf("metadata on %v: %w", b.Addrs, b.sec.explain(err, access{op: "describe"}))
	}
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			if need := minISR[t.Name]; len(p.Isr) < need {
				return fmt.Errorf("topic %s partition %d on %v has %d in-sync replicas, the topic's min.insync.replicas is %d, so every write would be refused: bring back the brokers that are down, or lower the topic's min.insync.replicas", t.Name, p.ID, b.Addrs, len(p.Isr), need)
			}
		}
	}
	return nil
}

// Partitions asks the cluster how many partitions topic has. A topic's own error counts as the request's,
// so that one the retrier knows may pass is retried: a real cluster makes a topic asynchronously, and a
// broker may answer "unknown topic" for a moment after another broker said it was created.
func (b *Broker) Partitions(ctx context.Context, topic string) (int, error) {
	var n int
	err := b.retry.do(ctx, func(ctx context.Context) error {
		resp, err := b.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			if t.Name == topic {
				n = len(t.Partitions)
				return t.Error
			}
		}
		return errTopicNotFound
	}, b.retrying("metadata for "+topic))
	if err != nil {
		return 0, fmt.Errorf("metadata for %s on %v: %w", topic, b.Addrs, b.sec.explain(err, access{op: "describe", topic: topic}))
	}
	return n, nil
}

var errTopicNotFound = errors.New("topic not found")

// headerPartition carries a message's explicit partition to the balancer (kafka-go's Writer ignores
// Message.Partition).
const headerPartition = "xling-partition"

func (b *Broker) Produce(ctx context.Context, msgs ...Message) error {
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: make([]kafka.Header, 0, len(m.Headers)+1)}
		for _, h := range m.Headers {
			km.Headers = append(km.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		if m.Partition >= 0 {
			km.Headers = append(km.Headers, kafka.Header{Key: headerPartition, Value: []byte(strconv.Itoa(m.Partition))})
		}
		kms[i] = km
	}
	pending := kms
	err := b.retry.do(ctx, func(ctx context.Context) error {
		err := b.w.WriteMessages(ctx, pending...)
		var we kafka.WriteErrors
		if errors.As(err, &we) && len(we) == len(pending) {
			// Send again from the first message that failed: each partition's messages stay in order
			// (those after it that did go through go twice, which the at-least-once contract allows).
			pending = pending[slices.IndexFunc(we, func(e error) bool { return e != nil }):]
		}
		return flatten(err)
	}, b.retrying("produce to "+msgs[0].Topic))
	if err != nil {
		m := pending[0]
		partition, broker := b.leaderOf(m.Topic, explicitPartition(m), m.Key)
		return fmt.Errorf("produce to %s partition %d (leader: %s): %w", m.Topic, partition, broker, b.sec.explain(err, access{op: "write", topic: m.Topic}))
	}
	return nil
}

// retrying logs a retried error at debug level.
func (b *Broker) retrying(what string) func(error, time.Duration) {
	return func(err error, wait time.Duration) {
		b.errorLogger("retry").Printf("%s: %v (retrying in %s)", what, err, wait)
	}
}

// leaderOf says where a message was headed, for an error message: its partition (the one given, else
// its key's) and that partition's leader, as well as the cluster can tell.
func (b *Broker) leaderOf(topic string, partition int, key []byte) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := b.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) == 0 {
		return partition, fmt.Sprintf("unknown, of %v", b.Addrs)
	}
	parts := resp.Topics[0].Partitions
	if partition < 0 {
		partition = partitionFor(key, len(parts))
	}
	for _, p := range parts {
		if p.ID == partition {
			return partition, brokerName(p.Leader)
		}
	}
	return partition, fmt.Sprintf("unknown, of %v", b.Addrs)
}

// explicitPartition is the partition a produced message was sent to explicitly, -1 if by key.
func explicitPartition(m kafka.Message) int {
	for _, h := range m.Headers {
		if h.Key == headerPartition {
			if n, err := strconv.Atoi(string(h.Value)); err == nil {
				return n
			}
		}
	}
	return -1
}

func brokerName(k kafka.Broker) string {
	return fmt.Sprintf("broker %d at %s", k.ID, net.JoinHostPort(k.Host, strconv.Itoa(k.Port)))
}

// flatten turns kafka-go's per-message WriteErrors into one error that errors.Is can look into, each
// distinct error once.
func flatten(err error) error {
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	var errs []error
	seen := map[string]bool{}
	for _, e := range we {
		if e != nil && !seen[e.Error()] {
			seen[e.Error()] = true
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// balancer sends a message to its explicit partition, else to partitionFor its key.
type balancer struct{}

func (balancer) Balance(msg kafka.Message, partitions ...int) int {
	if n := explicitPartition(msg); n >= 0 {
		return n
	}
	return partitions[partitionFor(msg.Key, len(partitions))]
}

func fromKafka(km kafka.Message) Message {
	m := Message{Topic: km.Topic, Partition: km.Partition, Offset: km.Offset, Key: km.Key, Value: km.Value, Headers: make([]Header, 0, len(km.Headers))}
	for _, h := range km.Headers {
		if h.Key != headerPartition {
			m.Headers = append(m.Headers, Header{Key: h.Key, Value: h.Value})
		}
	}
	return m
}

func (b *Broker) readerConfig(topic string, partition int) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers: b.Addrs, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 16 << 20, Dialer: b.dialer,
		// kafka-go gives a whole fetch response MaxWait to arrive: a short one livelocks a loaded machine
		// on a large batch (the fetch times out and is retried forever), so keep it long. A fetch still
		// returns as soon as there is data, so this adds no latency.
		MaxWait:     time.Second,
		ErrorLogger: b.errorLogger("reader " + topic),
	}
}

func (b *Broker) Read(_ context.Context, topic string, partition int) (PartitionReader, error) {
	r := kafka.NewReader(b.readerConfig(topic, partition))
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		r.Close()
		return nil, fmt.Errorf("read %s/%d: %w", topic, partition, b.sec.explain(err, access{op: "read", topic: topic}))
	}
	return kafkaReader{r, b}, nil
}

type kafkaReader struct {
	r *kafka.Reader
	b *Broker
}

func (k kafkaReader) Next(ctx context.Context) (Message, error) {
	var failing time.Time
	for {
		km, err := k.r.FetchMessage(ctx)
		if err == nil {
			return fromKafka(km), nil
		}
		if failing.IsZero() {
			failing = time.Now()
		}
		if ctx.Err() != nil {
			return Message{}, fmt.Errorf("read %s/%d: %w", k.r.Config().Topic, k.r.Config().Partition, err)
		}
		// As a group member's reader does: the reader retries on its own, for GiveUp at most.
		if !retriable(err) || time.Since(failing) >= k.b.retry.GiveUp {
			return Message{}, k.b.fetchError(err, k.r.Config().Topic, k.r.Config().Partition, "")
		}
		k.b.errorLogger("reader "+k.r.Config().Topic).Printf("fetch %s/%d: %v (retrying)", k.r.Config().Topic, k.r.Config().Partition, err)
	}
}

func (k kafkaReader) Close() error { return k.r.Close() }

// fetchError is a fetch that failed for good, naming the partition and its leader.
func (b *Broker) fetchError(err error, topic string, partition int, group string) error {
	_, leader := b.leaderOf(topic, partition, nil)
	return fmt.Errorf("read %s partition %d (leader: %s): %w", topic, partition, leader, b.sec.explain(err, access{op: "read", topic: topic, group: group}))
}

// Join runs a kafka-go consumer group member: each generation's assigned partitions are read by one
// reader each, and their messages handed to Fetch; when the group rebalances, the readers stop and the
// next generation's start from the committed offsets.
func (b *Broker) Join(ctx context.Context, group, topic string) (Consumer, error) {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: group, Brokers: b.Addrs, Topics: []string{topic}, StartOffset: kafka.FirstOffset, Dialer: b.dialer,
		// A member that dies (kill -9) is noticed after SessionTimeout; keep it short so a crashed stage's
		// partitions move on quickly. Kafka's smallest allowed session is 6 s.
		SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: 500 * time.Millisecond, Timeout: 10 * time.Second,
		ErrorLogger: b.errorLogger("group " + group),
	})
	if err != nil {
		return nil, fmt.Errorf("join group %s on %v: %w", group, b.Addrs, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &kafkaConsumer{b: b, cg: cg, group: group, topic: topic, msgs: make(chan fetched), errc: make(chan error, 1), cancel: cancel}
	c.done.Add(1)
	go c.generations(ctx)
	return c, nil
}

type fetched struct {
	m   Message
	gen int32
}

type kafkaConsumer struct {
	b      *Broker
	cg     *kafka.ConsumerGroup
	group  string
	topic  string
	msgs   chan fetched
	errc   chan error
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu     sync.Mutex
	gen    *kafka.Generation
	held   []int
	resume map[int]string // metadata committed with each held partition's offset
}

func (c *kafkaConsumer) generations(ctx context.Context) {
	defer c.done.Done()
	var failing time.Time
	for {
		gen, err := c.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			if denied(err) {
				c.fail(fmt.Errorf("join group %s on %s at %v: %w", c.group, c.topic, c.b.Addrs, c.b.sec.explain(err, access{op: "read", topic: c.topic, group: c.group})))
				return
			}
			if failing.IsZero() {
				failing = time.Now()
			}
			// The group retries on its own (a rebalance in progress is routine), but a coordinator that
			// never answers must end the worker rather than hang it.
			if time.Since(failing) < c.b.retry.GiveUp {
				c.b.errorLogger("group "+c.topic).Printf("join: %v (retrying)", err)
				continue
			}
			c.fail(fmt.Errorf("consumer group %s on %s (coordinator: %s): still failing after %s: %w", c.group, c.topic, c.b.coordinator(c.group), c.b.retry.GiveUp, err))
			return
		}
		failing = time.Time{}
		var held []int
		for _, a := range gen.Assignments[c.topic] {
			held = append(held, a.ID)
		}
		resume, err := c.fetchMeta(ctx, held)
		if err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		c.gen, c.held, c.resume = gen, held, resume
		c.mu.Unlock()
		for _, a := range gen.Assignments[c.topic] {
			gen.Start(func(gctx context.Context) { c.read(gctx, gen.ID, a) })
		}
	}
}

// read feeds one partition's messages to Fetch until its generation ends.
func (c *kafkaConsumer) read(ctx context.Context, gen int32, a kafka.PartitionAssignment) {
	cfg := c.b.readerConfig(c.topic, a.ID)
	var conns connSet
	cfg.Dialer, cfg.ErrorLogger = conns.dialer(cfg.Dialer), conns.logger(cfg.ErrorLogger)
	r := kafka.NewReader(cfg)
	// kafka-go's Reader.Close waits out a fetch in flight, up to MaxWait (1 s): cancelling does not cut it
	// short, but closing its connection does. Nothing the fetch could still bring is used.
	defer func() {
		conns.close()
		r.Close()
	}()
	if err := r.SetOffset(a.Offset); err != nil {
		<-ctx.Done() // returning would end the generation for every partition
		return
	}
	var failing time.Time
	for {
		km, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if failing.IsZero() {
				failing = time.Now()
			}
			// The reader goes on retrying with its own backoff, so a retriable error is asked again, until it
			// has lasted GiveUp.
			if !retriable(err) || time.Since(failing) >= c.b.retry.GiveUp {
				c.fail(c.b.fetchError(err, c.topic, a.ID, c.group))
				<-ctx.Done()
				return
			}
			c.b.errorLogger("reader "+c.topic).Printf("fetch %s/%d: %v (retrying)", c.topic, a.ID, err)
			continue
		}
		failing = time.Time{}
		select {
		case c.msgs <- fetched{fromKafka(km), gen}:
		case <-ctx.Done():
			return
		}
	}
}

// connSet holds the open connections a dialer made, to close them from outside the client that uses them.
type connSet struct {
	mu     sync.Mutex
	conns  map[*trackedConn]bool
	closed atomic.Bool
}

type trackedConn struct {
	net.Conn
	set *connSet
}

// Close closes the connection and forgets it: a client that redials does not grow the set.
func (c *trackedConn) Close() error {
	c.set.mu.Lock()
	delete(c.set.conns, c)
	c.set.mu.Unlock()
	return c.Conn.Close()
}

// dialer returns a copy of d whose connections the set holds.
func (s *connSet) dialer(d *kafka.Dialer) *kafka.Dialer {
	dd := *d
	dial := d.DialFunc
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dd.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: conn, set: s}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conns == nil {
			s.conns = map[*trackedConn]bool{}
		}
		s.conns[tc] = true
		return tc, nil
	}
	return &dd
}

// logger drops what l would log once the set is closed: the client's reads on the connections it closed
// fail, and that is no error.
func (s *connSet) logger(l kafka.Logger) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		if !s.closed.Load() {
			l.Printf(format, args...)
		}
	})
}

// close closes every connection the set holds.
func (s *connSet) close() {
	s.closed.Store(true)
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// fail hands err to Fetch, unless an error is already waiting there.
func (c *kafkaConsumer) fail(err error) {
	select {
	case c.errc <- err:
	default:
	}
}

func (c *kafkaConsumer) Fetch(ctx context.Context) (Message, error) {
	for {
		select {
		case f := <-c.msgs:
			c.mu.Lock()
			current := c.gen != nil && c.gen.ID == f.gen
			c.mu.Unlock()
			if current { // a message of a generation that ended is read again by its new owner
				f.m.Generation = int(f.gen)
				return f.m, nil
			}
		case err := <-c.errc:
			return Message{}, err
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

func (c *kafkaConsumer) Assigned() ([]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == nil {
		return nil, 0
	}
	return append([]int(nil), c.held...), int(c.gen.ID)
}

// fetchMeta reads the metadata committed with the group's offsets of the given partitions (the consumer
// group API hands over offsets only).
func (c *kafkaConsumer) fetchMeta(ctx context.Context, partitions []int) (map[int]string, error) {
	meta := map[int]string{}
	if len(partitions) == 0 {
		return meta, nil
	}
	var resp *kafka.OffsetFetchResponse
	err := c.b.retry.do(ctx, func(ctx context.Context) (err error) {
		resp, err = c.b.client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.group, Topics: map[string][]int{c.topic: partitions}})
		if err == nil {
			err = resp.Error
		}
		return err
	}, c.b.retrying("fetch committed offsets of "+c.topic+" for "+c.group))
	if errors.Is(err, kafka.GroupIdNotFound) {
		return meta, nil // nothing committed yet
	}
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets of %s for %s (coordinator: %s): %w", c.topic, c.group, c.b.coordinator(c.group), c.b.sec.explain(err, access{op: "describe", topic: c.topic, group: c.group}))
	}
	for _, p := range resp.Topics[c.topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("fetch committed offset of %s/%d for %s: %w", c.topic, p.Partition, c.group, c.b.sec.explain(p.Error, access{op: "describe", topic: c.topic, group: c.group}))
		}
		meta[p.Partition] = p.Metadata
	}
	return meta, nil
}

func (c *kafkaConsumer) Committed(ctx context.Context) (map[int]string, error) {
	n, err := c.b.Partitions(ctx, c.topic)
	if err != nil {
		return nil, err
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return c.fetchMeta(ctx, all)
}

func (c *kafkaConsumer) Resume(partition int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resume[partition]
}

func (c *kafkaConsumer) Commit(ctx context.Context, generation int, next map[int]Offset) error {
	c.mu.Lock()
	gen, held := c.gen, c.held
	c.mu.Unlock()
	if gen == nil || int(gen.ID) != generation {
		return nil // the state behind these offsets was built in a generation that has ended
	}
	var offsets []kafka.OffsetCommit
	for p, off := range next {
		for _, h := range held {
			if h == p {
				offsets = append(offsets, kafka.OffsetCommit{Partition: p, Offset: off.Next, Metadata: off.Meta})
			}
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	req := &kafka.OffsetCommitRequest{GroupID: c.group, GenerationID: int(gen.ID), MemberID: gen.MemberID, Topics: map[string][]kafka.OffsetCommit{c.topic: offsets}}
	err := c.b.retry.do(ctx, func(ctx context.Context) error {
		c.mu.Lock()
		moved := c.gen != gen
		c.mu.Unlock()
		if moved {
			return errGenerationEnded
		}
		resp, err := c.b.client().OffsetCommit(ctx, req)
		if err == nil {
			for _, p := range resp.Topics[c.topic] {
				err = errors.Join(err, p.Error)
			}
		}
		return err
	}, c.b.retrying("commit "+c.topic+" for "+c.group))
	if err != nil {
		c.mu.Lock()
		moved := c.gen != gen
		c.mu.Unlock()
		// The generation has ended (a rebalance under way, or this member's session gone): its partitions'
		// next owner starts from the last good commit and reads the rest again.
		if moved || errors.Is(err, errGenerationEnded) || errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.RebalanceInProgress) || errors.Is(err, kafka.UnknownMemberId) {
			c.b.errorLogger("group "+c.group).Printf("commit %s skipped, generation %d ended: %v", c.topic, gen.ID, err)
			return nil
		}
		return fmt.Errorf("commit %s partitions %v for %s (coordinator: %s): %w", c.topic, partitionsOf(offsets), c.group, c.b.coordinator(c.group), c.b.sec.explain(err, access{op: "read", topic: c.topic, group: c.group}))
	}
	return nil
}

// errGenerationEnded stops retrying a commit whose generation ended while it waited.
var errGenerationEnded = errors.New("generation ended")

func partitionsOf(offsets []kafka.OffsetCommit) []int {
	var ps []int
	for _, o := range offsets {
		ps = append(ps, o.Partition)
	}
	slices.Sort(ps)
	return ps
}

// coordinator names a group's coordinator, for an error message, as well as the cluster can tell.
func (b *Broker) coordinator(group string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := b.client().FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: group, KeyType: kafka.CoordinatorKeyTypeConsumer})
	if err != nil || resp.Error != nil || resp.Coordinator == nil {
		return fmt.Sprintf("unknown, of %v", b.Addrs)
	}
	return brokerName(kafka.Broker{ID: resp.Coordinator.NodeID, Host: resp.Coordinator.Host, Port: resp.Coordinator.Port})
}

func (c *kafkaConsumer) Close() error {
	c.cancel()
	err := c.cg.Close()
	c.done.Wait()
	return err
}
