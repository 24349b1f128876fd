// Package datasettest generates large dataset files for tests and measures the heap while they are read.
package datasettest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"xling/dataset"
)

// The million-question file of Million: MillionParagraphs paragraphs of MillionPerParagraph questions and
// two candidate sentences each.
const MillionParagraphs, MillionPerParagraph = 100_000, 10

// Million writes, under a new test directory, the LAReQA file xquad-r/en.json of 10^6 questions (84 MB,
// WriteQuestions with seed 11) and returns the data directory and the file's size. It skips the test
// under -short.
func Million(t testing.TB) (string, int64) {
	t.Helper()
	if testing.Short() {
		t.Skip("writes and reads an 84 MB file")
	}
	dir := t.TempDir()
	size, err := WriteQuestions(filepath.Join(dir, "xquad-r", "en.json"), MillionParagraphs, MillionPerParagraph, 11)
	if err != nil {
		t.Fatal(err)
	}
	return dir, size
}

// WriteQuestions streams to path a LAReQA file of paragraphs x perParagraph questions, every paragraph
// "Ab cd. Ef gh." and every question six seeded letters and "?", answered in the first sentence (even
// questions) or the second (odd), with ids the question's number in hex. It returns the file's size.
func WriteQuestions(path string, paragraphs, perParagraph int, seed uint64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(seed, 0))
	bw := bufio.NewWriter(f)
	bw.WriteString(`{"data": [{"title": "t", "paragraphs": [`)
	word := make([]byte, 6)
	for p := range paragraphs {
		if p > 0 {
			bw.WriteString(",")
		}
		bw.WriteString(`{"context": "Ab cd. Ef gh.", "sentence_breaks": [[0, 6], [7, 13]], "sentences": ["Ab cd.", "Ef gh."], "qas": [`)
		for i := range perParagraph {
			if i > 0 {
				bw.WriteString(",")
			}
			for j := range word {
				word[j] = byte('a' + rng.IntN(26))
			}
			fmt.Fprintf(bw, `{"id": "%x", "question": "%s?", "answers": [{"answer_start": %d}]}`, p*perParagraph+i, word, 7*(i%2))
		}
		bw.WriteString("]}")
	}
	bw.WriteString(`]}], "version": "1.1"}`)
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// LiveHeap is the heap the last collection found live. runtime.ReadMemStats's HeapAlloc also counts
// garbage not yet collected, which depends on when the collector last ran; the live heap does not.
func LiveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Peak is the largest live heap and the largest HeapAlloc (garbage included) sampled.
type Peak struct{ Live, Alloc uint64 }

// SampleHeap samples the heap every 2 ms until the returned function is called, which returns the peaks.
func SampleHeap() func() Peak {
	var top Peak
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			top.Live = max(top.Live, LiveHeap())
			runtime.ReadMemStats(&ms)
			top.Alloc = max(top.Alloc, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	return func() Peak {
		close(stop)
		wg.Wait()
		return top
	}
}

// Items reads every item of dataset name's files of langs (nil: every language) under dir, failing t on any
// error: the dataset as a test reads it on its own, to check what a run made of it.
func Items(t testing.TB, dir, name string, langs []string) []dataset.Item {
	t.Helper()
	files, err := dataset.Files(dir, name, langs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var items []dataset.Item
	for _, f := range files {
		r, err := f.Read(dataset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, r.Items...)
	}
	return items
}
