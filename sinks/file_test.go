package sinks

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xling/internal/testenv"
)

// sha256sum hashes a file with coreutils, independently of the hash the writer keeps.
func sha256sum(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(testenv.RequireTool(t, "sha256sum"), path).Output()
	if err != nil {
		t.Fatalf("sha256sum %s: %v", path, err)
	}
	return strings.Fields(string(out))[0]
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("%s holds %q, want nothing", dir, names)
	}
}

func TestFileAppearsOnlyOnCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	if err := os.WriteFile(path, []byte("previous run"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "previous run" {
		t.Errorf("before commit the final path holds %q, want the previous file", b)
	}
	names := dirNames(t, dir)
	if len(names) != 2 || !strings.HasPrefix(names[0], ".out.parquet.tmp-") {
		t.Errorf("before commit the directory holds %q, want one hidden temporary file beside out.parquet", names)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.parquet")); len(m) != 1 {
		t.Errorf("*.parquet matches %q, want only the previous file", m)
	}

	out, err := f.Commit()
	if err != nil {
		t.Fatal(err)
	}
	// SHA-256("abc"), the FIPS 180-2 test vector.
	want := OutputFile{Path: path, Bytes: 3, SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
	if out != want {
		t.Errorf("commit = %+v, want %+v", out, want)
	}
	if b, _ := os.ReadFile(path); string(b) != "abc" {
		t.Errorf("after commit the final path holds %q, want %q", b, "abc")
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("after commit the directory holds %q, want only out.parquet", names)
	}
	if err := f.Abort(); err != nil {
		t.Errorf("abort after commit: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("abort after commit removed the file: %v", err)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("write after commit succeeded")
	}
}

func TestFailedOutputLeavesNothing(t *testing.T) {
	row := RankingRow{RunID: "r", Setting: "mono", QueryID: "q", QueryLang: "en", CandLang: "en", Rank: 1, CandidateID: "c", Time: time.Unix(1, 0)}
	tests := []struct {
		name string
		// run fails or aborts an output at path; it returns the error it expects, or nil for an abort.
		run func(t *testing.T, path string) error
	}{
		{"file aborted", func(t *testing.T, path string) error {
			f, err := CreateFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("partial"))
			return f.Abort()
		}},
		{"file committed onto a directory", func(t *testing.T, path string) error {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			f, err := CreateFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("partial"))
			_, err = f.Commit()
			if err == nil {
				t.Error("commit onto a directory succeeded")
			}
			return nil
		}},
		{"writer aborted after row groups reached disk", func(t *testing.T, path string) error {
			w, err := Create[RankingRow](path, Options{RowGroupRows: 1})
			if err != nil {
				t.Fatal(err)
			}
			for range 100 {
				if err := w.Write(row); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Abort(); err != nil {
				return err
			}
			if _, err := w.Close(); err == nil {
				t.Error("close after abort succeeded")
			}
			return nil
		}},
		{"writer whose disk writes fail", func(t *testing.T, path string) error {
			w, err := Create[RankingRow](path, Options{RowGroupRows: 1})
			if err != nil {
				t.Fatal(err)
			}
			w.file.tmp.Close() // every later write to the temporary file fails, as on a full disk
			var werr error
			for i := 0; i < 1000 && werr == nil; i++ {
				werr = w.Write(row)
			}
			if _, cerr := w.Close(); werr == nil && cerr == nil {
				t.Error("writes and close to a failing file succeeded")
			}
			return nil
		}},
		{"writer in a missing directory", func(t *testing.T, path string) error {
			if _, err := Create[RankingRow](filepath.Join(filepath.Dir(path), "missing", "x.parquet"), Options{}); err == nil {
				t.Error("create in a missing directory succeeded")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tt.run(t, filepath.Join(dir, "out.parquet")); err != nil {
				t.Fatal(err)
			}
			assertEmptyDir(t, dir)
		})
	}
}

// TestKilledWriterLeavesNoFinalFile kills, with SIGKILL, a child process in the middle of writing a table.
func TestKilledWriterLeavesNoFinalFile(t *testing.T) {
	if dir := os.Getenv("XLING_SINKS_KILL_DIR"); dir != "" {
		writeUntilKilled(t, filepath.Join(dir, "rankings.parquet"))
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesNoFinalFile$")
	cmd.Env = append(os.Environ(), "XLING_SINKS_KILL_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "written\n" {
		t.Fatalf("child said %q (%v), want it to report rows written", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	if m, _ := filepath.Glob(filepath.Join(dir, "*.parquet")); len(m) != 0 {
		t.Errorf("after the kill *.parquet matches %q, want nothing", m)
	}
	names := dirNames(t, dir)
	if len(names) != 1 || !strings.HasPrefix(names[0], ".") || fileSize(t, filepath.Join(dir, names[0])) == 0 {
		t.Errorf("after the kill the directory holds %q, want one non-empty hidden temporary file", names)
	}
}

func writeUntilKilled(t *testing.T, path string) {
	w, err := Create[RankingRow](path, Options{RowGroupRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	row := RankingRow{RunID: "r", Setting: "mono", QueryID: "q", QueryLang: "en", CandLang: "en", Rank: 1, CandidateID: "c", Time: time.Unix(1, 0)}
	for range 5000 {
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	os.Stdout.WriteString("written\n")
	time.Sleep(time.Minute) // the parent kills us here
}

// SweepTemps removes the temporary file of a writer killed mid-table and keeps those of live writers, in
// another process and in this one.
func TestSweepTempsRemovesOnlyWhatKilledWritersLeft(t *testing.T) {
	dir := t.TempDir()
	writer := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesNoFinalFile$")
		cmd.Env = append(os.Environ(), "XLING_SINKS_KILL_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "written\n" {
			t.Fatalf("child said %q (%v), want it to report rows written", line, err)
		}
		return cmd
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
		return m
	}
	killed := writer()
	dead := temps()
	if len(dead) != 1 {
		t.Fatalf("temporary files %q, want the first writer's", dead)
	}
	killed.Process.Kill() // SIGKILL: it never aborts
	killed.Wait()
	writer()
	live, err := CreateFile(filepath.Join(dir, "metrics.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	if _, err := live.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	before := temps()

	removed, err := SweepTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, dead) {
		t.Errorf("removed %q, want the killed writer's %q", removed, dead)
	}
	tests := []struct {
		name string
		path string
		kept bool
	}{
		{"a killed writer's file is removed", dead[0], false},
		{"this process's live writer's file is kept", live.name, true},
	}
	for _, p := range before {
		if p != dead[0] && p != live.name {
			tests = append(tests, struct {
				name string
				path string
				kept bool
			}{"another process's live writer's file is kept", p, true})
		}
	}
	if len(tests) != 3 {
		t.Fatalf("temporary files before the sweep %q, want three", before)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := os.Stat(tc.path)
			if kept := err == nil; kept != tc.kept {
				t.Errorf("%s: kept = %v (%v), want %v", tc.path, kept, err, tc.kept)
			}
		})
	}
	// The live writer still commits.
	if _, err := live.Commit(); err != nil {
		t.Errorf("commit after the sweep: %v", err)
	}
}
