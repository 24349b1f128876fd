package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
)

// Connecting to a cluster that requires SCRAM-SHA-512 over TLS. The password comes from the environment,
// and Secret keeps it out of logs and manifests.
func ExampleConnect_secured() {
	cfg := pipeline.BrokerConfig{
		Addrs: []string{"kafka-1.internal:9093"},
		Security: pipeline.Security{
			SASL: pipeline.SASL{Mechanism: pipeline.SASLScramSHA512, User: "xling", Password: pipeline.Secret(os.Getenv("XLING_KAFKA_PASSWORD"))},
			TLS:  pipeline.TLS{CAFile: "/etc/kafka/ca.pem"},
		},
		Log: slog.Default(),
	}
	b, err := pipeline.Connect(context.Background(), cfg)
	if err != nil {
		slog.Error("kafka", "err", err) // names the broker, and the principal and operation a refusal was about
		return
	}
	defer b.Close()
}

// A stage runs on the in-memory transport as it would on Kafka: a source writes two records and ends
// the run; the stage upper-cases each text onto another topic, and Run returns once its input has ended.
func ExampleRun() {
	ctx := context.Background()
	mem := pipeline.NewMemory()
	topics := pipeline.Topics{Prefix: "example.", Partitions: 1}
	items := topics.Items()
	shouted := pipeline.Topic[schemas.Record]{Name: "example.shouted", Schema: schemas.Item}
	if err := mem.CreateTopics(ctx, topics.Partitions, items.Name, shouted.Name, topics.DeadLetter()); err != nil {
		fmt.Println(err)
		return
	}
	w := pipeline.Worker{Transport: mem, Topics: topics, RunID: "run1"}

	// The source: what ingest does with a dataset file.
	src := pipeline.NewSource("ingest", w)
	out := src.Output("example.txt")
	rows := []schemas.Record{
		{Dataset: "demo", Lang: "en", Kind: domain.Query, ID: "q1", Text: "where is the house?"},
		{Dataset: "demo", Lang: "en", Kind: domain.Query, ID: "q2", Text: "who reads it?"},
	}
	if err := pipeline.Emit(out, items, "demo/en", rows...); err != nil {
		fmt.Println(err)
		return
	}
	if err := src.Send(ctx, int64(len(rows)), out); err != nil {
		fmt.Println(err)
		return
	}
	if err := src.EndRun(ctx, items.Name); err != nil {
		fmt.Println(err)
		return
	}

	stage := &pipeline.Stage[schemas.Record]{
		Name: "shout", Input: items, Outputs: []string{shouted.Name},
		Process: func(_ context.Context, key string, rows []schemas.Record, out *pipeline.Output) error {
			for i := range rows {
				rows[i].Text = strings.ToUpper(rows[i].Text)
			}
			return pipeline.Emit(out, shouted, key, rows...)
		},
	}
	if err := pipeline.Run(ctx, w, stage); err != nil {
		fmt.Println(err)
		return
	}

	for _, m := range mem.Messages(shouted.Name) {
		if schema, _ := m.Header(schemas.HeaderSchema); schema != shouted.Schema.ID {
			continue // the run-end marker Run passed on
		}
		got, err := shouted.Schema.Decode(m.Value)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range got {
			fmt.Println(r.ID, r.Text)
		}
	}
	c := stage.Counts.Snapshot()
	fmt.Printf("in %d, out %d, dead %d, emitted %d\n", c.In, c.Out, c.Dead, c.Emitted)
	// Output:
	// q1 WHERE IS THE HOUSE?
	// q2 WHO READS IT?
	// in 2, out 2, dead 0, emitted 2
}

// A record the stage cannot take is rejected, not dropped: it goes to the dead-letter topic with the
// reason and where it came from, and the books still add up (In = Out + Dead).
func ExampleOutput_Reject() {
	ctx := context.Background()
	mem := pipeline.NewMemory()
	topics := pipeline.Topics{Prefix: "example.", Partitions: 1}
	items := topics.Items()
	if err := mem.CreateTopics(ctx, topics.Partitions, items.Name, topics.DeadLetter()); err != nil {
		fmt.Println(err)
		return
	}
	w := pipeline.Worker{Transport: mem, Topics: topics, RunID: "run1"}

	src := pipeline.NewSource("ingest", w)
	out := src.Output("example.txt")
	rows := []schemas.Record{
		{Dataset: "demo", Lang: "en", Kind: domain.Query, ID: "q1", Text: "a question"},
		{Dataset: "demo", Lang: "en", Kind: domain.Query, ID: "q2", Text: ""},
	}
	if err := pipeline.Emit(out, items, "demo/en", rows...); err != nil {
		fmt.Println(err)
		return
	}
	if err := src.Send(ctx, int64(len(rows)), out); err != nil {
		fmt.Println(err)
		return
	}
	if err := src.EndRun(ctx, items.Name); err != nil {
		fmt.Println(err)
		return
	}

	stage := &pipeline.Stage[schemas.Record]{
		Name: "check", Input: items,
		Process: func(_ context.Context, _ string, rows []schemas.Record, out *pipeline.Output) error {
			for i, r := range rows {
				if r.Text == "" {
					out.Reject(i, r, errors.New("empty text"))
				}
			}
			return nil
		},
	}
	if err := pipeline.Run(ctx, w, stage); err != nil {
		fmt.Println(err)
		return
	}

	for _, m := range mem.Messages(topics.DeadLetter()) {
		reason, _ := m.Header(pipeline.HeaderReason)
		from, _ := m.Header(pipeline.HeaderSource)
		record, _ := m.Header(pipeline.HeaderRecord)
		fmt.Printf("dead letter: %s (record %s of %s)\n", reason, record, from)
	}
	c := stage.Counts.Snapshot()
	fmt.Printf("in %d, out %d, dead %d\n", c.In, c.Out, c.Dead)
	// Output:
	// dead letter: empty text (record 1 of example.items/0/0)
	// in 2, out 1, dead 1
}
