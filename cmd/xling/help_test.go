package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command listed in the usage text answers -h and --help with its flags and no error, so `xling
// <command> -h` exits 0. The list comes from the usage text, so a new command is covered when it is listed.
func TestHelpFlagsSucceedForEveryCommand(t *testing.T) {
	commands := usageCommands(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The flag package prints the flags to stderr; keep the test's output readable.
	stderr := os.Stderr
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	os.Stderr = null
	defer func() { os.Stderr = stderr }()
	for _, c := range commands {
		for _, h := range []string{"-h", "--help", "-help"} {
			if err := run(context.Background(), []string{c, h}, log); err != nil {
				t.Errorf("xling %s %s: %v", c, h, err)
			}
		}
	}
	// A bad flag is still an error.
	if err := run(context.Background(), []string{"download", "--no-such-flag"}, log); err == nil {
		t.Error("xling download --no-such-flag succeeded")
	}
}

// usageCommands lists the commands of the usage text.
func usageCommands(t *testing.T) []string {
	t.Helper()
	var commands []string
	_, list, _ := strings.Cut(usageText, "commands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			commands = append(commands, f[0])
		}
	}
	if len(commands) < 5 {
		t.Fatalf("found commands %v in the usage text", commands)
	}
	return commands
}

// No command prints a secret that the environment holds when it shows its flags (-h) or refuses a flag: a
// flag default taken from the environment is printed by both. Nor may a secret come on the command line.
func TestHelpAndFlagErrorsShowNoSecret(t *testing.T) {
	secrets := map[string]string{
		"XLING_PG_DSN":         "host=db user=xling password=pw-env-pg-5e1a",
		"XLING_KAFKA_PASSWORD": "pw-env-kafka-90c3",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cases [][]string
	for _, c := range append(usageCommands(t), "stage store") {
		c := strings.Fields(c)
		cases = append(cases, append(c, "-h"), append(c, "--no-such-flag"))
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _ := captureOutput(t, func() error { return run(context.Background(), args, log) })
			if args[len(args)-1] == "-h" && out == "" {
				t.Error("-h printed nothing")
			}
			for k, v := range secrets {
				if strings.Contains(out, v) {
					t.Errorf("the output holds $%s:\n%s", k, out)
				}
			}
		})
	}
	// --no-such-flag after it: were --pg-dsn still a flag, the command would stop there, not run.
	for _, c := range []string{"run", "serve", "stage store"} {
		t.Run(c+" --pg-dsn", func(t *testing.T) {
			args := append(strings.Fields(c), "--pg-dsn", secrets["XLING_PG_DSN"], "--no-such-flag")
			out, err := captureOutput(t, func() error { return run(context.Background(), args, log) })
			if err == nil || !strings.Contains(err.Error(), "flag provided but not defined: -pg-dsn") {
				t.Errorf("err = %v, want --pg-dsn refused", err)
			}
			if strings.Contains(out+fmt.Sprint(err), secrets["XLING_PG_DSN"]) {
				t.Errorf("the DSN given is echoed: %v\n%s", err, out)
			}
		})
	}
}

// captureOutput runs f with stdout and stderr going to a file, and returns what they got and f's error.
func captureOutput(t *testing.T, f func() error) (string, error) {
	t.Helper()
	file, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = file, file
	err = f()
	os.Stdout, os.Stderr = stdout, stderr
	b, rerr := os.ReadFile(file.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(b), err
}
