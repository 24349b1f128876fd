package pipeline

// Topics names the topics of one deployment. Every name is Prefix + a fixed suffix, so several deployments
// can share a cluster.
//
//	topic            written by  read by                 key          schema
//	<p>items         ingest      tokenize                dataset/lang xling.item.v1, xling.marker.v1
//	<p>tokens        tokenize    encode                  dataset/lang xling.tokens.v1, xling.marker.v1
//	<p>embeddings    encode      score, embeddings sink  dataset      xling.embedding.v1, xling.marker.v1
//	<p>rankings      score       rankings sink           dataset      xling.ranking.v2, xling.marker.v1
//	<p>metrics       score       metrics sink            dataset      xling.metric.v2, xling.marker.v1
//	<p>deadletter    any stage   operators               stage        the rejected bytes; reason in headers
//	<p>train.<src>   ingest      assemble                source       xling.group.v1, xling.marker.v1
//	<p>train.batches assemble    trainer, batches sink   strategy     xling.pair.v1 (one batch a message)
//
// Records of one language travel on one key, and so in order on one partition, with the markers that close
// them; embeddings are keyed by dataset so the score member that owns a dataset sees all its languages.
type Topics struct {
	Prefix      string
	Partitions  int
	Replication int
}

// DefaultTopics is the layout `xling run` uses.
func DefaultTopics() Topics { return Topics{Prefix: "xling.", Partitions: 4, Replication: 1} }

func (t Topics) Items() string      { return t.Prefix + "items" }
func (t Topics) Tokens() string     { return t.Prefix + "tokens" }
func (t Topics) Embeddings() string { return t.Prefix + "embeddings" }
func (t Topics) Rankings() string   { return t.Prefix + "rankings" }
func (t Topics) Metrics() string    { return t.Prefix + "metrics" }
func (t Topics) DeadLetter() string { return t.Prefix + "deadletter" }

// TrainSource is the topic of one training source's parallel groups (one partition: a source is read in
// order, once per epoch).
func (t Topics) TrainSource(name string) string { return t.Prefix + "train." + name }

// Batches is the topic of assembled training batches (one partition: training consumes them in order).
func (t Topics) Batches() string { return t.Prefix + "train.batches" }

// All lists every topic of an evaluation run.
func (t Topics) All() []string {
	return []string{t.Items(), t.Tokens(), t.Embeddings(), t.Rankings(), t.Metrics(), t.DeadLetter()}
}
