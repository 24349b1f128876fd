package main

import (
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
	mech := fs.String("kafka-sasl", or("XLING_KAFKA_SASL", ""), "SASL mechanism: PLAIN (needs TLS), SCRAM-SHA-256 or SCRAM-SHA-512 (env XLING_KAFKA_SASL; default: none)")
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
		pw, err := readSecret("kafka password", "--kafka-password-file", *pwFile, "XLING_KAFKA_PASSWORD", getenv)
		if err != nil {
			return cfg, err
		}
		cfg.Security.SASL.Password = pw
		return cfg, nil
	}
}

// storeFlags declares on fs the flag that names the PostgreSQL embedding store; the returned function reads
// its DSN once fs is parsed ("" when none is named: no store). A DSN may hold a password, so it comes from
// the file --pg-dsn-file names or from $XLING_PG_DSN, never from a flag value (it would show in process
// listings and in the command line the run manifest records) nor into a flag default (-h and every flag
// error would print it).
func storeFlags(fs *flag.FlagSet, getenv func(string) string) func() (pipeline.Secret, error) {
	file := fs.String("pg-dsn-file", getenv("XLING_PG_DSN_FILE"), "file holding the DSN (libpq string or URL) of the PostgreSQL to upsert embeddings into, as the store stage (env XLING_PG_DSN_FILE; or put the DSN itself in env XLING_PG_DSN; default: no store)")
	return func() (pipeline.Secret, error) {
		return readSecret("PostgreSQL DSN", "--pg-dsn-file", *file, "XLING_PG_DSN", getenv)
	}
}

// readSecret reads a secret (what) from file, given by flag flagName, or else from the environment variable
// env; setting both is refused, as one of them would be silently ignored. A file's trailing newline is not
// part of the secret.
func readSecret(what, flagName, file, env string, getenv func(string) string) (pipeline.Secret, error) {
	v := getenv(env)
	switch {
	case file != "" && v != "":
		return "", fmt.Errorf("%s: both %s and %s: keep one", what, flagName, env)
	case file == "":
		return pipeline.Secret(v), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s: %s %s is empty", what, flagName, file)
	}
	return pipeline.Secret(s), nil
}
