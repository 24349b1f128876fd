package filelock

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestHelperProcess is not a test: run by TestStaleOnceItsOwnerIsKilled, it makes the lock file named by
// XLING_FILELOCK_PATH, says so, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("XLING_FILELOCK_PATH")
	if path == "" {
		t.Skip("helper process")
	}
	if _, err := Create(path); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	select {}
}

func TestStaleOnceItsOwnerIsKilled(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock")
	}
	path := filepath.Join(t.TempDir(), "owner")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "XLING_FILELOCK_PATH="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	tests := []struct {
		name  string
		kill  bool
		stale bool
	}{
		{"a live owner's file is not stale", false, false},
		{"a killed owner's file is stale", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.kill {
				cmd.Process.Kill() // SIGKILL: the owner cleans nothing up
				cmd.Wait()
			}
			stale, release, err := Stale(path)
			if err != nil {
				t.Fatal(err)
			}
			if release != nil {
				release()
			}
			if stale != tc.stale {
				t.Errorf("Stale = %v, want %v", stale, tc.stale)
			}
		})
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		t.Errorf("lock file holds %q (%v), want the owner's pid", b, err)
	}
}

// Within one process too: a file held open by its Create is not stale, and once closed it is.
func TestStaleInOneProcess(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock")
	}
	path := filepath.Join(t.TempDir(), "owner")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if stale, _, err := Stale(path); err != nil || stale {
		t.Errorf("held: Stale = %v, %v; want false", stale, err)
	}
	f.Close()
	stale, release, err := Stale(path)
	if err != nil || !stale {
		t.Fatalf("released: Stale = %v, %v; want true", stale, err)
	}
	release()
	if _, _, err := Stale(filepath.Join(t.TempDir(), "none")); !os.IsNotExist(err) {
		t.Errorf("missing file: err = %v, want not-exist", err)
	}
}
