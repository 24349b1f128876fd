package main

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xling/evaluate"
	"xling/pipeline"
	"xling/sinks"
)

// The password reaches the broker config from a file or the environment, and neither the log nor the run
// manifest (config and command line) ever holds it.
func TestBrokerFlagsKeepThePasswordOut(t *testing.T) {
	const password = "pw-7c21e0-secret"
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secured := []string{"--brokers", "k1:9093,k2:9093", "--kafka-sasl", "scram-sha-512", "--kafka-user", "xling", "--kafka-tls-ca", "/etc/kafka/ca.pem", "--kafka-give-up", "45s"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the error; "" for none
	}{
		{name: "password from a file", args: append(secured, "--kafka-password-file", pwFile)},
		{name: "password from the environment", args: secured, env: map[string]string{"XLING_KAFKA_PASSWORD": password}},
		{name: "password file from the environment", args: secured, env: map[string]string{"XLING_KAFKA_PASSWORD_FILE": pwFile}},
		{name: "a file and the environment both is refused", args: append(secured, "--kafka-password-file", pwFile),
			env: map[string]string{"XLING_KAFKA_PASSWORD": password}, want: "both a password file and XLING_KAFKA_PASSWORD"},
		{name: "a missing password file is named", args: append(secured, "--kafka-password-file", filepath.Join(dir, "nope")), want: filepath.Join(dir, "nope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			build := brokerFlags(fs, func(k string) string { return tc.env[k] })
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			bc, err := build()
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want one saying %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := pipeline.Security{SASL: pipeline.SASL{Mechanism: pipeline.SASLScramSHA512, User: "xling", Password: password}, TLS: pipeline.TLS{CAFile: "/etc/kafka/ca.pem"}}
			if bc.Security != want || strings.Join(bc.Addrs, ",") != "k1:9093,k2:9093" || bc.Retry.GiveUp != 45*time.Second {
				t.Errorf("config %#v %v %+v, want the flags' settings with the password", bc.Security, bc.Addrs, bc.Retry)
			}
			var logs bytes.Buffer
			cfg := evaluate.Config{Brokers: bc.Addrs, Kafka: bc.Security, KafkaRetry: bc.Retry, RunID: "r1"}
			slog.New(slog.NewTextHandler(&logs, nil)).Info("run", "config", cfg, "broker", bc)
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("run", "config", cfg, "broker", bc)
			manifest := filepath.Join(t.TempDir(), "manifest.json")
			if err := sinks.WriteManifest(manifest, sinks.NewManifest("r1", append([]string{"xling", "run"}, tc.args...), cfg, time.Now())); err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile(manifest)
			if err != nil {
				t.Fatal(err)
			}
			for what, text := range map[string]string{"log": logs.String(), "manifest": string(js)} {
				if strings.Contains(text, password) {
					t.Errorf("the %s holds the password:\n%s", what, text)
				}
			}
			if !strings.Contains(string(js), `"user": "xling"`) || !strings.Contains(string(js), `"password": "[redacted]"`) {
				t.Errorf("manifest should record the user and a redacted password:\n%s", js)
			}
		})
	}
}
