package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// Every command listed in the usage text answers -h and --help with its flags and no error, so `xling
// <command> -h` exits 0. The list comes from the usage text, so a new command is covered when it is listed.
func TestHelpFlagsSucceedForEveryCommand(t *testing.T) {
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
