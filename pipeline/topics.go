package pipeline

import "xling/schemas"

// Topic is a typed topic: its name and the Arrow schema of its data messages (markers travel beside them).
type Topic[T any] struct {
	Name   string
	Schema *schemas.Schema[T]
}

// Topics names the topics of one deployment. Every name is Prefix + a fixed suffix, so several deployments
// can share a cluster; runs within a deployment are told apart by the run id every message carries.
//
//	topic            written by  read by                 key          schema
//	<p>items         ingest      tokenize                dataset/lang xling.item.v1, xling.marker.v2
//	<p>tokens        tokenize    encode                  dataset/lang xling.tokens.v1, xling.marker.v2
//	<p>embeddings    encode      score, embeddings sink  dataset      xling.embedding.v1, xling.marker.v2
//	<p>rankings      score       rankings sink           dataset      xling.ranking.v3, xling.marker.v2
//	<p>metrics       score       metrics sink            dataset      xling.metric.v2, xling.marker.v2
//	<p>partials      score shards score merge         dataset      xling.partial.v1 (only with score shards)
//	<p>deadletter    any stage   operators               stage        the rejected bytes; reason in headers
//	<p>intake        any system  xling serve             dataset/lang xling.item.v1, xling.marker.v2
//	<p>train.<src>   publish     assemble                source       xling.group.v1, xling.marker.v2
//	<p>train.batches assemble    train, batches sink     strategy     xling.pair.v1 (one batch a message)
//
// Records of one language travel on one key, and so in order on one partition, with the markers that close
// them; embeddings are keyed by dataset so the score member that owns a dataset sees all its languages.
type Topics struct {
	Prefix     string
	Partitions int
}

// DefaultTopics is the layout `xling run` uses.
func DefaultTopics() Topics { return Topics{Prefix: "xling.", Partitions: 4} }

// Items is ingest's output: the texts of queries and candidates.
func (t Topics) Items() Topic[schemas.Record] {
	return Topic[schemas.Record]{t.Prefix + "items", schemas.Item}
}

// Tokens is tokenize's output: token ids.
func (t Topics) Tokens() Topic[schemas.Record] {
	return Topic[schemas.Record]{t.Prefix + "tokens", schemas.Tokens}
}

// Embeddings is encode's output: one vector a record.
func (t Topics) Embeddings() Topic[schemas.Record] {
	return Topic[schemas.Record]{t.Prefix + "embeddings", schemas.Embedding}
}

// Rankings is score's output: each query's ranked candidates.
func (t Topics) Rankings() Topic[schemas.Ranking] {
	return Topic[schemas.Ranking]{t.Prefix + "rankings", schemas.Rankings}
}

// Metrics is score's other output: metrics by setting and language pair, and by query.
func (t Topics) Metrics() Topic[schemas.Metric] {
	return Topic[schemas.Metric]{t.Prefix + "metrics", schemas.Metrics}
}

// Partials carries the score shards' per-shard answers to the merge stage (score.Config.Shard).
func (t Topics) Partials() Topic[schemas.Partial] {
	return Topic[schemas.Partial]{t.Prefix + "partials", schemas.Partials}
}

// DeadLetter is where every stage sends what it rejects, with the reason in the headers.
func (t Topics) DeadLetter() string { return t.Prefix + "deadletter" }

// Intake is where another system produces items for xling serve to evaluate: the items topic's schema and
// markers, each (dataset, language) closed by a stream-end marker per kind.
func (t Topics) Intake() Topic[schemas.Record] {
	return Topic[schemas.Record]{t.Prefix + "intake", schemas.Item}
}

// TrainSource is the topic of one training source's parallel groups (one partition: a source is read in
// order, once per epoch).
func (t Topics) TrainSource(name string) Topic[schemas.GroupRow] {
	return Topic[schemas.GroupRow]{t.Prefix + "train." + name, schemas.Groups}
}

// Batches is the topic of assembled training batches (one partition: training consumes them in order).
func (t Topics) Batches() Topic[schemas.PairRow] {
	return Topic[schemas.PairRow]{t.Prefix + "train.batches", schemas.Pairs}
}

// Sharded lists the topics of an evaluation run whose scoring is sharded: Evaluation's and the partials.
func (t Topics) Sharded() []string { return append(t.Evaluation(), t.Partials().Name) }

// Evaluation lists every topic of an evaluation run.
func (t Topics) Evaluation() []string {
	return []string{t.Items().Name, t.Tokens().Name, t.Embeddings().Name, t.Rankings().Name, t.Metrics().Name, t.DeadLetter()}
}
