package main

import (
	"bytes"
	"flag"
	"fmt"
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
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
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
			env: map[string]string{"XLING_KAFKA_PASSWORD": password}, want: "both --kafka-password-file and XLING_KAFKA_PASSWORD"},
		{name: "a missing password file is named", args: append(secured, "--kafka-password-file", filepath.Join(dir, "nope")), want: filepath.Join(dir, "nope")},
		{name: "an empty password file is refused", args: append(secured, "--kafka-password-file", empty), want: "--kafka-password-file " + empty + " is empty"},
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

// The PostgreSQL DSN reaches the config from a file or the environment, never from a flag, and neither the
// log nor the run manifest (config and command line) holds it.
func TestStoreFlagsKeepTheDSNOut(t *testing.T) {
	const (
		password = "pw-3b90d4-pg"
		dsn      = "host=db.internal port=5432 user=xling password=" + password + " dbname=xling sslmode=require"
	)
	dir := t.TempDir()
	dsnFile, empty := filepath.Join(dir, "dsn"), filepath.Join(dir, "empty")
	for file, text := range map[string]string{dsnFile: dsn + "\n", empty: ""} {
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    pipeline.Secret // the DSN read
		wantErr string          // the error; "" for none
	}{
		{name: "no DSN is no store"},
		{name: "DSN from a file", args: []string{"--pg-dsn-file", dsnFile}, want: dsn},
		{name: "DSN from the environment", env: map[string]string{"XLING_PG_DSN": dsn}, want: dsn},
		{name: "DSN file from the environment", env: map[string]string{"XLING_PG_DSN_FILE": dsnFile}, want: dsn},
		{name: "a file and the environment both is refused", args: []string{"--pg-dsn-file", dsnFile}, env: map[string]string{"XLING_PG_DSN": dsn},
			wantErr: "PostgreSQL DSN: both --pg-dsn-file and XLING_PG_DSN: keep one"},
		{name: "a missing DSN file is named", args: []string{"--pg-dsn-file", filepath.Join(dir, "nope")}, wantErr: filepath.Join(dir, "nope")},
		{name: "an empty DSN file is refused", args: []string{"--pg-dsn-file", empty}, wantErr: "--pg-dsn-file " + empty + " is empty"},
		{name: "a DSN on the command line is refused", args: []string{"--pg-dsn", dsn}, wantErr: "flag provided but not defined: -pg-dsn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var usage bytes.Buffer
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			fs.SetOutput(&usage)
			read := storeFlags(fs, func(k string) string { return tc.env[k] })
			got, err := pipeline.Secret(""), fs.Parse(tc.args)
			if err == nil {
				got, err = read()
			}
			if strings.Contains(usage.String()+fmt.Sprint(err), password) {
				t.Errorf("the error or the usage printed holds the password: %v\n%s", err, usage.String())
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(tc.want) {
				t.Fatalf("DSN %q, want %q", string(got), string(tc.want))
			}
			var logs bytes.Buffer
			cfg := evaluate.Config{RunID: "r1", StoreDSN: got}
			slog.New(slog.NewTextHandler(&logs, nil)).Info("run", "config", cfg, "dsn", got)
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("run", "config", cfg, "dsn", got)
			fmt.Fprintf(&logs, "%v %+v %s %q", cfg, cfg, cfg.StoreDSN, cfg.StoreDSN)
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
		})
	}
}

// --kafka-sasl takes every mechanism xling speaks, in any case, and names it as pipeline does.
func TestBrokerFlagsTakeEveryMechanism(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"plain", pipeline.SASLPlain},
		{"scram-sha-256", pipeline.SASLScramSHA256},
		{"SCRAM-SHA-512", pipeline.SASLScramSHA512},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			fs := flag.NewFlagSet("run", flag.ContinueOnError)
			build := brokerFlags(fs, func(string) string { return "" })
			if err := fs.Parse([]string{"--kafka-sasl", tc.flag}); err != nil {
				t.Fatal(err)
			}
			bc, err := build()
			if err != nil {
				t.Fatal(err)
			}
			if bc.Security.SASL.Mechanism != tc.want {
				t.Errorf("mechanism %q, want %q", bc.Security.SASL.Mechanism, tc.want)
			}
		})
	}
}
