package dataset_test

import (
	"runtime"
	"testing"

	"xling/dataset"
	"xling/dataset/datasettest"
)

// Scan streams: reading a file of 10^6 questions (100,000 paragraphs of 10, 84 MB) grows the live heap by
// less than scanHeapBound. What it keeps is the set of question ids met so far, to refuse a duplicate
// (about 55 MB for these 10^6; the sampled live heap also counts what is allocated while the collector
// marks). The whole-file reader it replaced held the file, its decoded form and every item.
func TestScanStreamsAMillionQuestions(t *testing.T) {
	const scanHeapBound = 128 << 20
	const paragraphs, perParagraph = datasettest.MillionParagraphs, datasettest.MillionPerParagraph
	dir, size := datasettest.Million(t)
	files, err := dataset.Files(dir, dataset.XQuADR, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := datasettest.LiveHeap()
	peak := datasettest.SampleHeap()
	counts := map[dataset.Kind]int{}
	sum, err := files[0].Scan(dataset.Options{MaxFileBytes: 128 << 20}, func(it dataset.Item) error {
		counts[it.Kind]++
		return nil
	}, func(e *dataset.RecordError) error {
		t.Errorf("skipped %v", e)
		return nil
	})
	top := peak()
	if err != nil {
		t.Fatal(err)
	}
	if counts[dataset.Query] != paragraphs*perParagraph || counts[dataset.Candidate] != 2*paragraphs || len(sum) != 64 {
		t.Errorf("scan gave %v and digest %q, want %d queries, %d candidates and a SHA-256", counts, sum, paragraphs*perParagraph, 2*paragraphs)
	}
	growth := int64(top.Live) - int64(before)
	t.Logf("file %.1f MB; live heap grew %.1f MiB (bound %d MiB); heap with garbage peaked at %.1f MiB",
		float64(size)/1e6, float64(growth)/(1<<20), scanHeapBound>>20, float64(top.Alloc)/(1<<20))
	if growth >= scanHeapBound {
		t.Errorf("live heap grew by %.1f MiB scanning a %.1f MB file, want under %d MiB", float64(growth)/(1<<20), float64(size)/1e6, scanHeapBound>>20)
	}
}
