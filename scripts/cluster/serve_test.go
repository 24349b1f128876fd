package cluster

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"xling/dataset"
	"xling/serve"
)

// serveProc is one `xling serve` process and its operations endpoint.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	logs *strings.Builder
	done chan error
}

var endpoint = regexp.MustCompile(`operations endpoint.*addr=(http://\S+)`)

func (e env) serve(t *testing.T, data, models, state string, extra ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(e.bin, append([]string{"serve", "--data", data, "--models", models, "--state", state, "--ort", e.lib,
		"--http", "127.0.0.1:0", "--poll", "100ms", "--grace", "100ms", "--datasets", dataset.XQuADR, "--threads", "1"}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: &strings.Builder{}, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.WriteString(sc.Text() + "\n")
			if m := endpoint.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case p.url = <-found:
	case <-time.After(time.Minute):
		t.Fatalf("xling serve printed no endpoint:\n%s", p.logs.String())
	}
	return p
}

type serveStatus struct {
	Service serve.Status `json:"service"`
}

func (p *serveProc) status(t *testing.T) serveStatus {
	t.Helper()
	resp, err := http.Get(p.url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st serveStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("status %s: %v", b, err)
	}
	return st
}

func (p *serveProc) waitFor(t *testing.T, what string, ok func(serveStatus) bool) serveStatus {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st := p.status(t); ok(st) {
			return st
		}
	}
	t.Fatalf("xling serve: no %s in time:\n%s", what, p.logs.String())
	return serveStatus{}
}

// serveFolders lays out a data folder with three XQuAD-R languages and a models folder with the test model,
// for xling serve to find.
func (e env) serveFolders(t *testing.T) (data, models string) {
	t.Helper()
	root := t.TempDir()
	data, models = filepath.Join(root, "data"), filepath.Join(root, "models")
	for _, d := range []string{filepath.Join(data, dataset.XQuADR), models} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"en", "de", "zh"} {
		b, err := os.ReadFile(filepath.Join(e.data, dataset.XQuADR, l+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, dataset.XQuADR, l+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(e.model)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "small.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return data, models
}

// SIGTERM in the middle of an update: xling serve exits 0 within its grace period, leaving no partial
// update behind; started again on the same state directory, it does that update once, and nothing else.
func TestServeStopsOnSIGTERMAndRedoesTheUpdateCutShort(t *testing.T) {
	e := setup(t)
	data, models := e.serveFolders(t)
	state := filepath.Join(t.TempDir(), "state")

	p := e.serve(t, data, models, state)
	p.waitFor(t, "update in flight", func(st serveStatus) bool { return st.Service.InProgress != nil })
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("xling serve exited with %v after SIGTERM:\n%s", err, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("xling serve still running 30s after SIGTERM:\n%s", p.logs.String())
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	ledger, _ := os.ReadFile(filepath.Join(state, "ledger.jsonl"))
	before := strings.Count(string(ledger), "\n")

	again := e.serve(t, data, models, state)
	st := again.waitFor(t, "idle", func(st serveStatus) bool { return st.Service.State == serve.Idle && st.Service.Scans > 2 })
	if len(st.Service.Done) != 1 || len(st.Service.Failures) != 0 {
		t.Fatalf("after the restart: updates %+v, failures %+v (ledger had %d before)", st.Service.Done, st.Service.Failures, before)
	}
	runs, err := os.ReadDir(filepath.Join(state, "runs"))
	if err != nil || len(runs) != 1 || runs[0].Name() != st.Service.Done[0].RunID {
		t.Errorf("runs/ holds %v, want only the ledger's %s", runs, st.Service.Done[0].RunID)
	}
}
