package pipeline

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelperConnects is not a test: run by TestConnectRemovesTheDirectoriesOfKilledProcesses, it starts
// the embedded broker, prints its directory, and waits to be killed.
func TestHelperConnects(t *testing.T) {
	if os.Getenv("XLING_HELPER_CONNECT") == "" {
		t.Skip("helper process")
	}
	b, err := Connect(context.Background(), BrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), brokerDirPrefix+"*"))
	os.Stdout.WriteString(strings.Join(dirs, " ") + "\n")
	select {}
}

// A process killed with SIGKILL cannot remove its broker's directory; the next Connect on the machine does,
// and leaves the directories of live processes, its own and others', alone.
func TestConnectRemovesTheDirectoriesOfKilledProcesses(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	helper := func() (*exec.Cmd, string) {
		t.Helper()
		before, _ := filepath.Glob(filepath.Join(tmp, brokerDirPrefix+"*"))
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperConnects$")
		cmd.Env = append(os.Environ(), "XLING_HELPER_CONNECT=1")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
		for _, d := range strings.Fields(line) {
			if !strings.Contains(strings.Join(before, " "), d) {
				return cmd, d
			}
		}
		t.Fatalf("helper made no broker directory (it sees %q)", line)
		return nil, ""
	}
	killed, killedDir := helper()
	_, liveDir := helper()
	killed.Process.Kill() // SIGKILL: Close never runs
	killed.Wait()
	// An older xling's directory has no owner lock: nothing proves it stale.
	oldDir := filepath.Join(tmp, brokerDirPrefix+"old")
	if err := os.Mkdir(oldDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(killedDir); err != nil {
		t.Fatalf("the killed process's directory is not there to be swept: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Connect(ctx, BrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tests := []struct {
		name string
		dir  string
		kept bool
	}{
		{"a killed process's directory is removed", killedDir, false},
		{"a live process's directory is kept", liveDir, true},
		{"a directory without an owner lock is kept", oldDir, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := os.Stat(tc.dir)
			if kept := err == nil; kept != tc.kept {
				t.Errorf("%s: kept = %v (%v), want %v", tc.dir, kept, err, tc.kept)
			}
		})
	}
	if dirs, _ := filepath.Glob(filepath.Join(tmp, brokerDirPrefix+"*")); len(dirs) != 3 {
		t.Errorf("broker directories %v, want the live helper's, the old one and this process's", dirs)
	}
}
