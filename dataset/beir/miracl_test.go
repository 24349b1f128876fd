package beir_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"xling/dataset"
	"xling/dataset/beir"
	"xling/dataset/download"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// miraclServer serves a small Thai MIRACL in MIRACL's own formats at the URLs Hugging Face would serve
// them at, for the pinned commits, and records the requests.
func miraclServer(t *testing.T, files map[string][]byte) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	var mu sync.Mutex
	var reqs []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r)
		mu.Unlock()
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &reqs
}

func TestMIRACLDownloadsChecksConvertsAndReads(t *testing.T) {
	const (
		topicsURL = "/datasets/miracl/miracl/resolve/aca2e2507a3fcbce12c33e56167072b6574a2f15/miracl-v1.0-th/topics/topics.miracl-v1.0-th-dev.tsv"
		qrelsURL  = "/datasets/miracl/miracl/resolve/aca2e2507a3fcbce12c33e56167072b6574a2f15/miracl-v1.0-th/qrels/qrels.miracl-v1.0-th-dev.tsv"
		shard0URL = "/datasets/miracl/miracl-corpus/resolve/a7362f0b9d54dce8a8af3cd42a8cf2a5ef570475/miracl-corpus-v1.0-th/docs-0.jsonl.gz"
		shard1URL = "/datasets/miracl/miracl-corpus/resolve/a7362f0b9d54dce8a8af3cd42a8cf2a5ef570475/miracl-corpus-v1.0-th/docs-1.jsonl.gz"
	)
	files := map[string][]byte{
		topicsURL: []byte("7\tกรุงเทพคืออะไร\n12\tWhat is <b>bold</b>?\n"),
		qrelsURL:  []byte("7 Q0 10#0 1\n7 Q0 20#1 0\n12 Q0 20#1 1\n12 Q0 10#1 1\n"),
		shard0URL: gz(t, `{"docid": "10#0", "title": "กรุงเทพ", "text": "กรุงเทพมหานครเป็นเมืองหลวง"}`+"\n"+`{"docid": "10#1", "title": "กรุงเทพ", "text": "ประชากร"}`+"\n"),
		shard1URL: gz(t, `{"docid": "20#0", "title": "HTML", "text": "Markup."}`+"\n"+`{"docid": "20#1", "title": "HTML", "text": "The <b> element."}`+"\n"),
	}
	sums := map[string]string{}
	for url, body := range files {
		s := sha256.Sum256(body)
		_, path, _ := strings.Cut(url, "/resolve/")
		_, path, _ = strings.Cut(path, "/") // drop the commit
		sums[path] = hex.EncodeToString(s[:])
	}
	srv, reqs := miraclServer(t, files)
	dl := &download.Downloader{Client: srv.Client(), BaseURL: srv.URL, Header: http.Header{"Authorization": {"Bearer hf_test"}},
		Logger: slog.New(slog.DiscardHandler)}

	// Without digests nothing is fetched.
	if _, err := download.MIRACLFiles("th", "dev", nil); err == nil || !strings.Contains(err.Error(), "no SHA-256 for miracl-v1.0-th/topics/") {
		t.Errorf("error %v, want the files without a digest named", err)
	}
	list, err := download.MIRACLFiles("th", "dev", sums)
	if err != nil {
		t.Fatal(err)
	}
	raw := t.TempDir()
	if err := dl.Fetch(context.Background(), raw, list); err != nil {
		t.Fatal(err)
	}
	if len(*reqs) != 4 {
		t.Errorf("%d requests, want 4", len(*reqs))
	}
	for _, r := range *reqs {
		if r.Header.Get("Authorization") != "Bearer hf_test" {
			t.Errorf("%s: no Authorization header", r.URL.Path)
		}
	}

	out := t.TempDir()
	if err := beir.FromMIRACL(raw, "th", "dev", out); err != nil {
		t.Fatal(err)
	}
	r, err := beir.Open(out, beir.Options{Dataset: "miracl", Lang: "th", Split: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	q := func(id, text string) dataset.Item {
		return dataset.Item{Dataset: "miracl", Lang: "th", Kind: dataset.Query, ID: "th/q/" + id, QID: id, Text: text}
	}
	if got, want := r.Queries(), []dataset.Item{q("7", "กรุงเทพคืออะไร"), q("12", "What is <b>bold</b>?")}; !reflect.DeepEqual(got, want) {
		t.Errorf("queries\n got %+v\nwant %+v", got, want)
	}
	c := func(id, title, text string, qids ...string) dataset.Item {
		return dataset.Item{Dataset: "miracl", Lang: "th", Kind: dataset.Candidate, ID: "th/c/" + id, Text: text, Context: title, QIDs: qids}
	}
	want := []dataset.Item{
		c("10#0", "กรุงเทพ", "กรุงเทพมหานครเป็นเมืองหลวง", "7"), c("10#1", "กรุงเทพ", "ประชากร", "12"),
		c("20#0", "HTML", "Markup."), c("20#1", "HTML", "The <b> element.", "12"),
	}
	var got []dataset.Item
	for it, err := range r.Candidates() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, it)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("candidates\n got %+v\nwant %+v", got, want)
	}
}

func TestMIRACLDownloadRefusesContentThatDoesNotMatchItsDigest(t *testing.T) {
	shard := "/datasets/miracl/miracl-corpus/resolve/a7362f0b9d54dce8a8af3cd42a8cf2a5ef570475/miracl-corpus-v1.0-sw/docs-0.jsonl.gz"
	srv, _ := miraclServer(t, map[string][]byte{shard: []byte("tampered")})
	sums := map[string]string{}
	for _, p := range []string{"miracl-v1.0-sw/topics/topics.miracl-v1.0-sw-dev.tsv", "miracl-v1.0-sw/qrels/qrels.miracl-v1.0-sw-dev.tsv", "miracl-corpus-v1.0-sw/docs-0.jsonl.gz"} {
		sums[p] = strings.Repeat("ab", 32)
	}
	list, err := download.MIRACLFiles("sw", "dev", sums)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dl := &download.Downloader{Client: srv.Client(), BaseURL: srv.URL, Logger: slog.New(slog.DiscardHandler)}
	err = dl.Fetch(context.Background(), dir, list[2:]) // the shard
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("error %v, want a digest mismatch", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "miracl-corpus-v1.0-sw", "docs-0.jsonl.gz")); !os.IsNotExist(serr) {
		t.Errorf("the refused file is on disk (%v)", serr)
	}
}

func TestFromMIRACLNamesFileAndLineOfBadInput(t *testing.T) {
	for _, tc := range []struct{ name, file, body, want string }{
		{"qrels without Q0 column", "miracl-v1.0-sw/qrels/qrels.miracl-v1.0-sw-dev.tsv", "1 d 1\n", "qrels.miracl-v1.0-sw-dev.tsv:1: 3 fields, want 4"},
		{"topic without a tab", "miracl-v1.0-sw/topics/topics.miracl-v1.0-sw-dev.tsv", "1\tok\n2 no tab\n", "topics.miracl-v1.0-sw-dev.tsv:2: want qid TAB query"},
		{"passage without text", "miracl-corpus-v1.0-sw/docs-0.jsonl.gz", `{"docid": "1#0"}` + "\n", "docs-0.jsonl.gz:1: docid or text missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			good := map[string][]byte{
				"miracl-v1.0-sw/topics/topics.miracl-v1.0-sw-dev.tsv": []byte("1\tswali\n"),
				"miracl-v1.0-sw/qrels/qrels.miracl-v1.0-sw-dev.tsv":   []byte("1 Q0 1#0 1\n"),
				"miracl-corpus-v1.0-sw/docs-0.jsonl.gz":               gz(t, `{"docid": "1#0", "title": "t", "text": "maandishi"}`+"\n"),
			}
			good[tc.file] = []byte(tc.body)
			if strings.HasSuffix(tc.file, ".gz") {
				good[tc.file] = gz(t, tc.body)
			}
			for p, b := range good {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(src, p), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := beir.FromMIRACL(src, "sw", "dev", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
