// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb into a temporary directory and
// pg_ctl start on a unix socket there (no TCP port, so parallel test binaries never collide). Debian's
// postgresql package provides the programs (`make oracles` installs it); when the tests run as root the
// cluster runs as the postgres user, since the server refuses to run as root.
//
// A missing server skips the test on a developer's machine and fails it under XLING_REQUIRE_ORACLES=1.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"xling/internal/testenv"
)

// Cluster is one running (or stopped) throwaway server.
type Cluster struct {
	t       testing.TB
	dir     string // data directory, socket directory and log
	bin     string // directory of initdb, pg_ctl
	runAs   *user.User
	dsn     string
	running bool
}

// Start creates and starts a cluster that is stopped and removed when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := findBin()
	if bin == "" {
		testenv.Missing(t, "PostgreSQL server programs initdb and pg_ctl (Debian's postgresql; `make oracles` installs it)")
	}
	c := &Cluster{t: t, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Missing(t, "user postgres to run PostgreSQL as (Debian's postgresql package creates it)")
		}
		c.runAs = u
	}
	// Not t.TempDir: the server's user must reach the directory, and socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "xling-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		if c.running {
			c.ctl("stop", "-m", "immediate")
		}
		os.RemoveAll(dir)
	})
	if c.runAs != nil {
		uid, _ := strconv.Atoi(c.runAs.Uid)
		gid, _ := strconv.Atoi(c.runAs.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.run(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	c.dsn = fmt.Sprintf("host=%s port=5432 user=postgres dbname=postgres sslmode=disable", dir)
	c.Start()
	return c
}

// DSN is the connection string of the cluster's postgres database, as the postgres superuser.
func (c *Cluster) DSN() string { return c.dsn }

// Dir is the directory that holds the cluster's socket (the host of DSN).
func (c *Cluster) Dir() string { return c.dir }

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.ctl("start", "-w", "-l", filepath.Join(c.dir, "server.log"),
		"-o", fmt.Sprintf("-k %s -c listen_addresses='' -c fsync=off -c full_page_writes=off", c.dir))
	c.running = true
}

// Stop shuts the server down at once, as a crash or a killed host would.
func (c *Cluster) Stop() {
	c.t.Helper()
	c.ctl("stop", "-w", "-m", "immediate")
	c.running = false
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) ctl(args ...string) {
	c.t.Helper()
	c.run(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data()}, args...)...)
}

// run runs a server program, as the postgres user when the test runs as root.
func (c *Cluster) run(prog string, args ...string) {
	c.t.Helper()
	if c.runAs != nil {
		args = append([]string{"-u", c.runAs.Username, "--", prog}, args...)
		prog = "runuser"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.t.Fatalf("pgtest: %s %v: %v\n%s\nserver log:\n%s", prog, args, err, out, log)
	}
}

// findBin looks for initdb on PATH, then in Debian's /usr/lib/postgresql/<version>/bin, newest first.
func findBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}
