package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Peer is another program doing the same work as xling in a benchmark.
type Peer struct {
	Name string         // its metrics are <Name>-ms/op and x-<Name>
	Run  func() float64 // one turn; returns the turn's seconds, as the peer timed itself
}

// Interleave runs b.N rounds in which xling and every peer take one turn each, in an order that rotates
// from round to round, so that load from other processes on the machine falls on all of them alike. Each
// takes warmup turns first. Only xling's turns are timed by the benchmark (ns/op, B/op). Each peer
// reports its mean time per turn (<name>-ms/op) and x-<name>, the median over rounds of its time over
// xling's in the same round: above 1 when xling is faster. It returns xling's seconds per round, and
// each peer's.
func Interleave(b *testing.B, warmup int, xling func(), peers ...Peer) (xlingSecs []float64, peerSecs [][]float64) {
	b.Helper()
	for range warmup {
		xling()
		for _, p := range peers {
			p.Run()
		}
	}
	xs := make([]float64, b.N)
	ps := make([][]float64, len(peers))
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		for turn := range len(peers) + 1 {
			j := (i + turn) % (len(peers) + 1)
			if j < len(peers) {
				ps[j] = append(ps[j], peers[j].Run())
				continue
			}
			b.StartTimer()
			start := time.Now()
			xling()
			xs[i] = time.Since(start).Seconds()
			b.StopTimer()
		}
	}
	for j, p := range peers {
		ratios := make([]float64, b.N)
		for i, s := range ps[j] {
			ratios[i] = s / xs[i]
		}
		b.ReportMetric(Sum(ps[j])/float64(b.N)*1e3, p.Name+"-ms/op")
		b.ReportMetric(Median(ratios), "x-"+p.Name)
	}
	return xs, ps
}

// Sum returns the sum of v.
func Sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// Median returns the median of v (the upper one of the middle two when len(v) is even); v is reordered.
func Median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// StartPeer starts cmd, a peer that answers each request line on its stdin with one line on its stdout,
// and returns the function that sends a request and returns the reply. The peer is stopped (stdin
// closed, then waited for) when b ends.
func StartPeer(b *testing.B, cmd *exec.Cmd) func(request string) string {
	b.Helper()
	name := strings.Join(cmd.Args, " ")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	b.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("%s: %v\n%s", name, err, stderr.Bytes())
		}
	})
	replies := bufio.NewScanner(stdout)
	replies.Buffer(make([]byte, 64<<10), 64<<20)
	return func(request string) string {
		if _, err := fmt.Fprintln(stdin, request); err != nil {
			b.Fatalf("%s: send %q: %v\n%s", name, request, err, stderr.Bytes())
		}
		if !replies.Scan() {
			b.Fatalf("%s: no reply to %q: %v\n%s", name, request, replies.Err(), stderr.Bytes())
		}
		return replies.Text()
	}
}
