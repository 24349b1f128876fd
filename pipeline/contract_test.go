package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"xling/domain"
	"xling/internal/kafkatest"
	"xling/internal/testenv"
	"xling/pipeline"
	"xling/schemas"
)

// consumed is one message as the independent client (kafkajs + apache-arrow) decoded it.
type consumed struct {
	Partition int               `json:"partition"`
	Offset    int               `json:"offset"`
	Key       string            `json:"key"`
	Headers   map[string]string `json:"headers"`
	Schema    string            `json:"schema"`
	Rows      []map[string]any  `json:"rows"`
}

// TestMain stops the real Kafka cluster, if a test started one.
func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }

// TestIndependentClientReadsTheTopics checks the topic contract of docs/topics.md with clients xling did
// not write, on the embedded broker and on Apache Kafka: kafkajs consumes and apache-arrow decodes the Arrow
// IPC payloads, dictionary-encoded label columns and list columns included; librdkafka (kcat) sees the
// same messages at the same partitions and offsets, with the same keys and headers.
func TestIndependentClientReadsTheTopics(t *testing.T) {
	modules := testenv.NodeModules(t, "kafkajs", "apache-arrow")
	kcat := testenv.RequireTool(t, "kcat")
	for _, tc := range []struct {
		name    string
		connect func(t *testing.T) *pipeline.Broker
	}{
		{"embedded broker", func(t *testing.T) *pipeline.Broker {
			b, err := pipeline.Embedded("127.0.0.1:0", 1)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"Apache Kafka", func(t *testing.T) *pipeline.Broker {
			k := kafkatest.Start(t)
			b, err := pipeline.Connect(context.Background(), pipeline.BrokerConfig{Addrs: strings.Split(k.Brokers, ",")})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.connect(t)
			defer b.Close()
			// A prefix of its own, so that a second -count finds new, empty topics on a cluster that outlives it.
			contract(t, b, modules, kcat, pipeline.Topics{Prefix: fmt.Sprintf("contract%d.", time.Now().UnixNano()), Partitions: 2})
		})
	}
}

func contract(t *testing.T, b *pipeline.Broker, modules, kcat string, topics pipeline.Topics) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.CreateTopics(ctx, topics.Partitions, topics.Evaluation()...); err != nil {
		t.Fatal(err)
	}
	w := pipeline.Worker{Transport: b, Topics: topics, RunID: "run-7"}
	items := []schemas.Record{
		{Dataset: "xquad-r", Lang: "th", Kind: domain.Query, ID: "th/q/1", QID: "1", Text: "ใครชนะ <b>?", Context: ""},
		{Dataset: "xquad-r", Lang: "th", Kind: domain.Candidate, ID: "th/c/0.0.0", QIDs: []string{"1", "2"}, Text: "ทีม A ชนะ", Context: "ทีม A ชนะ 3-1"},
	}
	embeddings := []schemas.Record{{Dataset: "xquad-r", Lang: "th", Kind: domain.Query, ID: "th/q/1", QID: "1", Model: "m", Vector: []float32{0.25, -1.5, 3.0000002}}}
	lists := []schemas.Ranking{{Dataset: "xquad-r", Model: "m", Setting: domain.Cross, QueryID: "en/q/1", QueryLang: "en", CandLang: "th",
		CandidateIDs: []string{"th/c/0.0.0", "th/c/0.0.1"}, Scores: []float32{0.75, -0.125}, Relevant: []int64{2}}}
	metricRows := []schemas.Metric{{Dataset: "xquad-r", Model: "m", Setting: domain.Multi, QueryLang: "th", CandLang: domain.Pool, Name: "map", Value: 0.123456789, Queries: 1190}}
	src := pipeline.NewSource("ingest", w)
	out := src.Output("test")
	if err := pipeline.Emit(out, topics.Items(), "xquad-r/th", items...); err != nil {
		t.Fatal(err)
	}
	out.EndStream(topics.Items().Name, "xquad-r/th", schemas.Marker{Kind: schemas.StreamEnd, Dataset: "xquad-r", Lang: "th", ItemKind: domain.Query, Langs: []string{"th"}})
	if err := pipeline.Emit(out, topics.Embeddings(), "xquad-r", embeddings...); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Emit(out, topics.Rankings(), "xquad-r", lists...); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.Emit(out, topics.Metrics(), "xquad-r", metricRows...); err != nil {
		t.Fatal(err)
	}
	if err := src.Send(ctx, 0, out); err != nil {
		t.Fatal(err)
	}

	read := func(topic string) []consumed {
		t.Helper()
		cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "consume.mjs"), b.Addrs[0], topic)
		cmd.Env = append(os.Environ(), "NODE_MODULES="+modules)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("node consume %s: %v\n%s", topic, err, stderr.String())
		}
		var msgs []consumed
		sc := bufio.NewScanner(bytes.NewReader(stdout))
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var m consumed
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			msgs = append(msgs, m)
		}
		// librdkafka's view of the same topic: every message with its partition, offset, key, size and
		// headers, compared with kafkajs's.
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", b.Addrs[0], "-t", topic, "-e", "-q", "-J").Output()
		if err != nil {
			t.Fatalf("kcat -C %s: %v", topic, err)
		}
		var seen []consumed
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var m struct {
				Partition int      `json:"partition"`
				Offset    int      `json:"offset"`
				Key       string   `json:"key"`
				Headers   []string `json:"headers"`
				Payload   string   `json:"payload"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("kcat: %q: %v", line, err)
			}
			h := map[string]string{}
			for i := 0; i+1 < len(m.Headers); i += 2 {
				h[m.Headers[i]] = m.Headers[i+1]
			}
			seen = append(seen, consumed{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Headers: h})
		}
		key := func(m consumed) string { return fmt.Sprintf("%d/%d", m.Partition, m.Offset) }
		slices.SortFunc(seen, func(a, b consumed) int { return strings.Compare(key(a), key(b)) })
		js := slices.Clone(msgs)
		slices.SortFunc(js, func(a, b consumed) int { return strings.Compare(key(a), key(b)) })
		if len(seen) != len(js) {
			t.Fatalf("%s: kcat read %d messages, kafkajs %d", topic, len(seen), len(js))
		}
		for i := range js {
			k, j := seen[i], js[i]
			if k.Partition != j.Partition || k.Offset != j.Offset || k.Key != j.Key || !reflect.DeepEqual(k.Headers, j.Headers) {
				t.Errorf("%s: kcat read %+v, kafkajs %+v", topic, k, j)
			}
		}
		return msgs
	}

	t.Run("items and their stream-end marker", func(t *testing.T) {
		msgs := read(topics.Items().Name)
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want the items and their marker", len(msgs))
		}
		data, marker := msgs[0], msgs[1]
		if data.Key != "xquad-r/th" || marker.Key != "xquad-r/th" || data.Partition != marker.Partition {
			t.Errorf("keys %q, %q on partitions %d, %d: want one key, one partition", data.Key, marker.Key, data.Partition, marker.Partition)
		}
		for _, m := range msgs {
			if m.Headers[pipeline.HeaderRun] != "run-7" || m.Headers[schemas.HeaderSchema] != m.Schema {
				t.Errorf("headers %v, Arrow schema metadata %q: want the run id and the schema id in both", m.Headers, m.Schema)
			}
		}
		want := []map[string]any{
			{"dataset": "xquad-r", "lang": "th", "kind": "query", "id": "th/q/1", "qid": "1", "qids": []any{}, "text": "ใครชนะ <b>?", "context": ""},
			{"dataset": "xquad-r", "lang": "th", "kind": "candidate", "id": "th/c/0.0.0", "qid": "", "qids": []any{"1", "2"}, "text": "ทีม A ชนะ", "context": "ทีม A ชนะ 3-1"},
		}
		if data.Schema != schemas.Item.ID || !reflect.DeepEqual(data.Rows, want) {
			t.Errorf("items (%s) = %v\nwant %v", data.Schema, data.Rows, want)
		}
		wantMarker := []map[string]any{{"kind": "stream_end", "dataset": "xquad-r", "lang": "th", "item_kind": "query", "count": float64(1), "langs": []any{"th"}, "part": float64(0), "parts": float64(0)}}
		if marker.Schema != schemas.Markers.ID || !reflect.DeepEqual(marker.Rows, wantMarker) {
			t.Errorf("marker (%s) = %v\nwant %v", marker.Schema, marker.Rows, wantMarker)
		}
	})
	t.Run("embeddings: float32 vectors exactly", func(t *testing.T) {
		msgs := read(topics.Embeddings().Name)
		if len(msgs) != 1 || len(msgs[0].Rows) != 1 {
			t.Fatalf("messages %v", msgs)
		}
		got := msgs[0].Rows[0]["vector"].([]any)
		for i, v := range embeddings[0].Vector {
			if got[i] != float64(v) {
				t.Errorf("vector[%d] = %v, want %v", i, got[i], float64(v))
			}
		}
	})
	t.Run("rankings: a query's list as one row", func(t *testing.T) {
		msgs := read(topics.Rankings().Name)
		want := []map[string]any{{"dataset": "xquad-r", "model": "m", "setting": "cross", "query_id": "en/q/1", "query_lang": "en", "cand_lang": "th",
			"candidate_ids": []any{"th/c/0.0.0", "th/c/0.0.1"}, "scores": []any{0.75, -0.125}, "relevant": []any{float64(2)}}}
		if len(msgs) != 1 || msgs[0].Schema != schemas.Rankings.ID || !reflect.DeepEqual(msgs[0].Rows, want) {
			t.Errorf("rankings = %v\nwant %v", msgs, want)
		}
	})
	t.Run("metrics: dictionary-encoded labels", func(t *testing.T) {
		msgs := read(topics.Metrics().Name)
		want := []map[string]any{{"dataset": "xquad-r", "model": "m", "setting": "multi", "query_lang": "th", "cand_lang": "*", "query_id": "", "metric": "map", "value": 0.123456789, "queries": float64(1190)}}
		if len(msgs) != 1 || !reflect.DeepEqual(msgs[0].Rows, want) {
			t.Errorf("metrics = %v\nwant %v", msgs, want)
		}
	})
}
