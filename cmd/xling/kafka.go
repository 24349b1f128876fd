package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"xling/pipeline"
)

// brokerFlags declares on fs the flags that say which Kafka cluster to use and how to reach it securely;
// the returned function builds the pipeline.BrokerConfig once fs is parsed. The SASL password is read
// from --kafka-password-file or $XLING_KAFKA_PASSWORD, never from a flag value: a flag would show in
// process listings and in the command line the run manifest records.
func brokerFlags(fs *flag.FlagSet, getenv func(string) string) func() (pipeline.BrokerConfig, error) {
	or := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	brokers := fs.String("brokers", or("XLING_BROKERS", ""), "comma-separated Kafka bootstrap addresses (env XLING_BROKERS; default: embedded broker)")
	mech := fs.String("kafka-sasl", or("XLING_KAFKA_SASL", ""), "SASL mechanism: PLAIN (needs TLS) or SCRAM-SHA-512 (env XLING_KAFKA_SASL; default: none)")
	user := fs.String("kafka-user", or("XLING_KAFKA_USER", ""), "SASL user (env XLING_KAFKA_USER)")
	pwFile := fs.String("kafka-password-file", or("XLING_KAFKA_PASSWORD_FILE", ""), "file holding the SASL password (env XLING_KAFKA_PASSWORD_FILE; or put the password itself in env XLING_KAFKA_PASSWORD)")
	useTLS := fs.Bool("kafka-tls", false, "connect with TLS, checking the brokers against the system's roots (implied by the other --kafka-tls-* flags)")
	ca := fs.String("kafka-tls-ca", or("XLING_KAFKA_TLS_CA", ""), "PEM file of the CAs that sign the brokers' certificates (env XLING_KAFKA_TLS_CA)")
	cert := fs.String("kafka-tls-cert", or("XLING_KAFKA_TLS_CERT", ""), "PEM client certificate, for clusters that require one (env XLING_KAFKA_TLS_CERT)")
	key := fs.String("kafka-tls-key", or("XLING_KAFKA_TLS_KEY", ""), "PEM key of the client certificate (env XLING_KAFKA_TLS_KEY)")
	serverName := fs.String("kafka-tls-server-name", "", "name the brokers' certificates must carry (default: the host dialed)")
	giveUp := fs.Duration("kafka-give-up", 2*time.Minute, "how long a broker error that may pass (a broker down, a leader moving) is retried before it ends the run")
	return func() (pipeline.BrokerConfig, error) {
		cfg := pipeline.BrokerConfig{Addrs: split(*brokers), Security: pipeline.Security{
			SASL: pipeline.SASL{Mechanism: strings.ToUpper(*mech), User: *user},
			TLS:  pipeline.TLS{Enabled: *useTLS, CAFile: *ca, CertFile: *cert, KeyFile: *key, ServerName: *serverName},
		}, Retry: pipeline.Retry{GiveUp: *giveUp}}
		switch pw := getenv("XLING_KAFKA_PASSWORD"); {
		case *pwFile != "" && pw != "":
			return cfg, errors.New("kafka: both a password file and XLING_KAFKA_PASSWORD: keep one")
		case *pwFile != "":
			b, err := os.ReadFile(*pwFile)
			if err != nil {
				return cfg, fmt.Errorf("kafka password: %w", err)
			}
			cfg.Security.SASL.Password = pipeline.Secret(strings.TrimRight(string(b), "\r\n"))
		default:
			cfg.Security.SASL.Password = pipeline.Secret(pw)
		}
		return cfg, nil
	}
}
