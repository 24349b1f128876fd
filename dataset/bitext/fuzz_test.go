package bitext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

const fuzzMaxLine = 256

// fuzzCorpus writes two files into a fresh directory, reads them as c, and checks every group: two or
// more languages, each text non-empty, valid UTF-8, within the line limit and free of line ends, ids unique.
func fuzzCorpus(t *testing.T, c func(dir string) Corpus, files map[string][]byte, skip bool) ([]Group, Stats, error) {
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var groups []Group
	ids := map[string]bool{}
	st, err := c(dir).Read(context.Background(), Options{Skip: skip, MaxLineBytes: fuzzMaxLine}, func(g Group) error {
		if ids[g.ID] {
			t.Fatalf("group id %q twice", g.ID)
		}
		ids[g.ID] = true
		if len(g.Text) < 2 {
			t.Fatalf("group %s has %d languages", g.ID, len(g.Text))
		}
		for l, s := range g.Text {
			if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || len(s) > fuzzMaxLine || strings.ContainsAny(s, "\n") {
				t.Fatalf("group %s %s: text %q is empty, not UTF-8, over %d bytes or holds a line end", g.ID, l, s, fuzzMaxLine)
			}
		}
		groups = append(groups, g)
		return nil
	})
	if err == nil && st.Groups != len(groups) {
		t.Fatalf("stats count %d groups, the callback saw %d", st.Groups, len(groups))
	}
	return groups, st, err
}

// lineCount counts lines as a text file holds them: a last line without "\n" counts.
func lineCount(b []byte) int {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// FuzzReadLines reads two line-aligned files (the NTREX/FLORES layout). A read that succeeds must have
// seen as many lines in each file as a plain count finds, and made one group of each line (or, with
// skip, dropped it).
func FuzzReadLines(f *testing.F) {
	f.Add([]byte("Hello.\nGood morning.\n"), []byte("Hallo.\nGuten Morgen.\n"), false)
	f.Add([]byte("a\r\n\nb"), []byte("x\r\ny\n\xff\n"), true)
	f.Fuzz(func(t *testing.T, en, de []byte, skip bool) {
		_, st, err := fuzzCorpus(t, NTREX, map[string][]byte{"eng.txt": en, "deu.txt": de}, skip)
		if err != nil {
			return
		}
		if n, m := lineCount(en), lineCount(de); n != m {
			t.Fatalf("read succeeded on files of %d and %d lines", n, m)
		}
		if got, want := st.Groups+st.Dropped, lineCount(en); got != want {
			t.Fatalf("%d groups and %d dropped from %d lines", st.Groups, st.Dropped, want)
		}
		if !skip && st.Dropped+st.SkippedLines != 0 {
			t.Fatalf("without Skip, %d lines skipped and %d groups dropped", st.SkippedLines, st.Dropped)
		}
	})
}

// FuzzReadSTSB reads two stsb CSV files: any bytes must give an error or groups within the limits, two
// per record at most.
func FuzzReadSTSB(f *testing.F) {
	f.Add([]byte("A man plays.,A man sings.,2.5\n"), []byte("Ein Mann spielt.,Ein Mann singt.,2.5\n"), false)
	f.Add([]byte("\"a,\"\"b\",c,1\n"), []byte("x,y,1\n"), true)
	f.Fuzz(func(t *testing.T, en, de []byte, skip bool) {
		groups, _, err := fuzzCorpus(t, STSB, map[string][]byte{"stsb-en-test.csv": en, "stsb-de-test.csv": de}, skip)
		if err == nil && len(groups) > 2*lineCount(en) {
			t.Fatalf("%d groups from %d lines", len(groups), lineCount(en))
		}
	})
}
