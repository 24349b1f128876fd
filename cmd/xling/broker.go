package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"xling/pipeline"
)

// cmdBroker runs the embedded Kafka-protocol broker (franz-go's kfake) as its own process, so stage
// workers on one machine can share it. It keeps every topic in memory and is for one machine: past it,
// use a real cluster (compose.yaml).
func cmdBroker(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9092", "address of the first node (host:port)")
	nodes := fs.Int("nodes", 1, "brokers in the cluster (the others listen on free loopback ports)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := pipeline.Embedded(*listen, *nodes)
	if err != nil {
		return err
	}
	defer b.Close()
	log.Info("broker listening (topics live in memory; stop with SIGTERM)", "addrs", b.Addrs)
	fmt.Println(b.Addrs[0])
	<-ctx.Done()
	return nil
}
