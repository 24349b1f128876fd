package pipeline_test

import (
	"context"
	"log/slog"
	"os"

	"xling/pipeline"
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
