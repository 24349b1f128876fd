package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"xling/dataset"
	"xling/dataset/datasettest"
	"xling/domain"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
	"xling/stages/tokenize"
)

// The hostile corpus: one row per class of hostile record, each file generated here (a seeded filler for
// the long texts), run through ingest and then tokenize with pipeline.Run on the memory transport. Every
// expectation is written by hand: what each stage counts, each dead letter's stage and reason, the token
// ids of what passes, or the error that ends the run.

const hostileSeed = 11

// filler is n seeded ASCII letters.
func filler(n int) string {
	rng := rand.New(rand.NewPCG(hostileSeed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// jstr quotes s as a JSON string; invalid UTF-8 goes in raw (json.Marshal would replace it).
func jstr(s string) string {
	if !utf8.ValidString(s) {
		return `"` + s + `"`
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// hq is a question of a hostile file: answered in sentence sent, or raw JSON as it stands.
type hq struct {
	id, text string
	sent     int
	raw      string
}

// lareqaFile is a LAReQA file of one paragraph: the sentences joined by spaces, their breaks, questions.
func lareqaFile(sents []string, qs ...hq) string {
	var breaks, quoted, qas []string
	pos := 0
	starts := make([]int, len(sents))
	for i, s := range sents {
		n := utf8.RuneCountInString(s)
		starts[i] = pos
		breaks = append(breaks, fmt.Sprintf("[%d, %d]", pos, pos+n))
		quoted = append(quoted, jstr(s))
		pos += n + 1
	}
	for _, q := range qs {
		if q.raw != "" {
			qas = append(qas, q.raw)
			continue
		}
		qas = append(qas, fmt.Sprintf(`{"id": %s, "question": %s, "answers": [{"text": "x", "answer_start": %d}]}`, jstr(q.id), jstr(q.text), starts[q.sent]))
	}
	return fmt.Sprintf(`{"data": [{"title": "t", "paragraphs": [{"context": %s, "sentence_breaks": [%s], "sentences": [%s], "qas": [%s]}]}], "version": "1.1"}`,
		jstr(strings.Join(sents, " ")), strings.Join(breaks, ", "), strings.Join(quoted, ", "), strings.Join(qas, ", "))
}

var (
	base = []string{"Ab cd.", "Ef gh."}
	q1   = hq{id: "q1", text: "Q one?"}
)

// withQ2 is the base paragraph with q1 and a second question, text, answered in its second sentence.
func withQ2(text string) string { return lareqaFile(base, q1, hq{id: "q2", text: text, sent: 1}) }

// writeFiles writes name -> body under a fresh data directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// codePoints is the tokenizer of these tests: a text's ids are its code points, cut to 64.
type codePoints struct{}

func (codePoints) Encode(text string) ([]int64, []int64, bool, error) {
	var ids []int64
	for _, c := range text {
		ids = append(ids, int64(c))
	}
	if len(ids) > 64 {
		return ids[:64], nil, true, nil
	}
	return ids, nil, false, nil
}

// books is a stage's counts as the rows expect them.
type books struct{ in, out, dead int64 }

func TestHostileRecords(t *testing.T) {
	xq := dataset.XQuADR + "/en.json"
	tests := []struct {
		name        string
		files       map[string]string  // data directory contents
		datasets    []string           // default: xquad-r, en only
		items       []schemas.Record   // instead of files: records put straight on the items topic
		withContext bool               // tokenize encodes a candidate with its paragraph
		runErr      string             // the error ingest ends with (nothing produced), or ""
		ingest      books              // ingest's counts
		tokenize    books              // tokenize's counts (its In is ingest's Emitted)
		dead        []string           // every dead letter, "stage: reason", in order
		tokens      map[string][]int64 // token ids of records that pass
	}{
		{
			name:   "text at the size limit passes",
			files:  map[string]string{xq: withQ2(filler(64 << 10))},
			ingest: books{4, 4, 0}, tokenize: books{4, 4, 0},
		},
		{
			name:   "text over the size limit is dead-lettered by ingest",
			files:  map[string]string{xq: withQ2(filler(64<<10 + 1))},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].qas[1].question: 65537 bytes, over the limit of 65536"},
		},
		{
			// The sentence (40001 bytes) and its paragraph (40008) are each within the reader's limit;
			// together, as tokenize encodes them, they are 80010 bytes.
			name:        "text over the size limit once its context is added is dead-lettered by tokenize",
			files:       map[string]string{xq: lareqaFile([]string{filler(40000) + ".", "Ef gh."}, q1, hq{id: "q2", text: "Q two?", sent: 1})},
			withContext: true,
			ingest:      books{4, 4, 0}, tokenize: books{4, 3, 1},
			dead: []string{"tokenize: text over the size limit: en/c/0.0.0 has 80010 bytes, limit 65536"},
		},
		{
			name:   "invalid UTF-8 is dead-lettered",
			files:  map[string]string{xq: withQ2("Q \xff\xfe?")},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].qas[1].question: invalid UTF-8"},
		},
		{
			name:   "NUL is dead-lettered",
			files:  map[string]string{xq: withQ2("Q\x00two?")},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].qas[1].question: control character U+0000"},
		},
		{
			name:   "a control character (a terminal escape) is dead-lettered",
			files:  map[string]string{xq: withQ2("Q \x1b[31mtwo?")},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].qas[1].question: control character U+001B"},
		},
		{
			// Zero-width space, joiner and non-joiner and the byte-order mark are in the published data
			// (and ZWJ/ZWNJ are how some scripts are written): they pass, and are tokenized as they are.
			name:   "zero-width characters pass untouched",
			files:  map[string]string{xq: lareqaFile([]string{"Ab cd.", "Ef\u200c gh."}, q1, hq{id: "q2", text: "Who\u200bwon\u200d?\ufeff", sent: 1})},
			ingest: books{4, 4, 0}, tokenize: books{4, 4, 0},
			tokens: map[string][]int64{
				"en/q/q2":    {'W', 'h', 'o', 0x200b, 'w', 'o', 'n', 0x200d, '?', 0xfeff},
				"en/c/0.0.1": {'E', 'f', 0x200c, ' ', 'g', 'h', '.'},
			},
		},
		{
			name:   "a right-to-left override passes untouched",
			files:  map[string]string{xq: withQ2("\u202eQ owt\u202c?")},
			ingest: books{4, 4, 0}, tokenize: books{4, 4, 0},
			tokens: map[string][]int64{"en/q/q2": {0x202e, 'Q', ' ', 'o', 'w', 't', 0x202c, '?'}},
		},
		{
			name: "deeply nested JSON fails the file before anything is produced",
			files: map[string]string{xq: `{"data": [{"title": "t", "x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) +
				`, "paragraphs": []}], "version": "1.1"}`},
			// encoding/json's limit is 10,000 levels: the 9,998th '[' after the 30 bytes before them.
			runErr: "en.json:1:10028: malformed dataset file: invalid character '[' exceeded max depth",
		},
		{
			name: "a key named twice in a question dead-letters the question",
			files: map[string]string{xq: lareqaFile(base, q1,
				hq{raw: `{"id": "q2", "question": "Q two?", "question": "Q deux?", "answers": [{"answer_start": 7}]}`})},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].qas[1].question: key named twice in one object"},
		},
		{
			name:   "a key named twice in the file's frame fails the file",
			files:  map[string]string{xq: `{"data": [], "data": [{"paragraphs": []}]}`},
			runErr: `en.json:1:19: malformed dataset file: key "data" named twice in one object`,
		},
		{
			name:   "an empty language code in a file name fails the run",
			files:  map[string]string{dataset.XQuADR + "/.json": withQ2("Q two?")},
			runErr: `.json: malformed language code ""`,
		},
		{
			name: "an empty language code for a BEIR set fails the run",
			files: map[string]string{"tiny/corpus.jsonl": `{"_id": "d1", "text": "Ab."}` + "\n", "tiny/queries.jsonl": `{"_id": "q1", "text": "Q?"}` + "\n",
				"tiny/qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\n"},
			datasets: []string{"beir:{dir}/tiny:"},
			runErr:   `beir: language ""`,
		},
		{
			name: "an empty language code on a record is dead-lettered by tokenize",
			items: []schemas.Record{{Dataset: "d", Lang: "", Kind: domain.Query, ID: "/q/1", QID: "1", Text: "Q?"},
				{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/2", QID: "2", Text: "Q?"}},
			tokenize: books{2, 1, 1},
			dead:     []string{`tokenize: unknown language code "" in /q/1 (not an ISO 639-1 code)`},
			tokens:   map[string][]int64{"en/q/2": {'Q', '?'}},
		},
		{
			name:   "an empty question is dead-lettered",
			files:  map[string]string{xq: withQ2("")},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].qas[1].question: empty"},
		},
		{
			// The blank sentence is no candidate; the question it answers is still a query (with no
			// relevant candidate in this file).
			name:   "a blank sentence is dead-lettered",
			files:  map[string]string{xq: lareqaFile([]string{"Ab cd.", "   "}, q1, hq{id: "q2", text: "Q two?", sent: 1})},
			ingest: books{4, 3, 1}, tokenize: books{3, 3, 0},
			dead: []string{"ingest: " + xq + ": data[0].paragraphs[0].sentences[1]: empty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := pipelinetest.Setup(t, 2)
			dir := writeFiles(t, tc.files)
			var emitted int64
			if tc.items != nil {
				pipelinetest.Produce(t, ctx, w, w.Topics.Items(), "d", tc.items)
				emitted = int64(len(tc.items))
			} else {
				datasets := tc.datasets
				if datasets == nil {
					datasets = []string{dataset.XQuADR}
				}
				for i := range datasets {
					datasets[i] = strings.ReplaceAll(datasets[i], "{dir}", dir)
				}
				src := pipeline.NewSource("ingest", w)
				cfg := Config{DataDir: dir, Datasets: datasets, Read: dataset.Options{Partial: true}}
				_, err := Run(ctx, src, w.Topics, cfg, quiet())
				if tc.runErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.runErr) {
						t.Fatalf("ingest error = %v, want one containing %q", err, tc.runErr)
					}
					if n := len(m.Messages(w.Topics.Items().Name)); n != 0 {
						t.Errorf("%d messages on the items topic, want none", n)
					}
					if got := src.Counts.Snapshot(); got != (pipeline.Snapshot{}) {
						t.Errorf("ingest counts %+v, want none", got)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got := src.Counts.Snapshot()
				if want := (pipeline.Snapshot{In: tc.ingest.in, Out: tc.ingest.out, Dead: tc.ingest.dead, Emitted: tc.ingest.out}); got != want {
					t.Errorf("ingest counts %+v, want %+v", got, want)
				}
				if got.In != got.Out+got.Dead {
					t.Errorf("ingest: In %d != Out %d + Dead %d", got.In, got.Out, got.Dead)
				}
				emitted = got.Emitted
			}

			st := tokenize.Stage(w.Topics, codePoints{}, tokenize.Config{WithContext: tc.withContext})
			if err := pipeline.Run(ctx, w, st); err != nil {
				t.Fatal(err)
			}
			got := st.Counts.Snapshot()
			if got.In != tc.tokenize.in || got.Out != tc.tokenize.out || got.Dead != tc.tokenize.dead {
				t.Errorf("tokenize counts %+v, want in %d out %d dead %d", got, tc.tokenize.in, tc.tokenize.out, tc.tokenize.dead)
			}
			if got.In != emitted || got.In != got.Out+got.Dead {
				t.Errorf("books do not reconcile: upstream emitted %d, tokenize In %d = Out %d + Dead %d", emitted, got.In, got.Out, got.Dead)
			}

			var dead []string
			for _, msg := range m.Messages(w.Topics.DeadLetter()) {
				stage, _ := msg.Header(pipeline.HeaderStage)
				reason, _ := msg.Header(pipeline.HeaderReason)
				dead = append(dead, stage+": "+strings.ReplaceAll(reason, dir+"/", ""))
			}
			if !slices.Equal(dead, tc.dead) {
				t.Errorf("dead letters\n got %q\nwant %q", dead, tc.dead)
			}
			toks := map[string][]int64{}
			for _, r := range pipelinetest.Read(t, m, w.Topics.Tokens()).Rows {
				toks[r.ID] = r.TokenIDs
			}
			for id, want := range tc.tokens {
				if !reflect.DeepEqual(toks[id], want) {
					t.Errorf("tokens of %s = %U, want %U", id, toks[id], want)
				}
			}
		})
	}
}

// A file of 10^6 questions (100,000 paragraphs of 10, 84 MB) goes through ingest, its books reconciled, with
// the live heap bounded by millionHeapBound. The reader streams the file (dataset's
// TestScanStreamsAMillionQuestions bounds it alone); what stays is per question, not per byte: the question
// ids the reader keeps to refuse a duplicate, and the record ids the pipeline's emitter keeps to count
// each stream's distinct records (about 1.2 million strings here).
func TestHostileMillionQuestionFileStreams(t *testing.T) {
	const millionHeapBound = 256 << 20
	const paragraphs, perParagraph = datasettest.MillionParagraphs, datasettest.MillionPerParagraph
	dir, size := datasettest.Million(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tr := &counting{Memory: pipeline.NewMemory()}
	topics := pipeline.Topics{Prefix: "million.", Partitions: 2}
	if err := tr.CreateTopics(ctx, topics.Partitions, topics.Evaluation()...); err != nil {
		t.Fatal(err)
	}
	w := pipeline.Worker{Transport: tr, Topics: topics, RunID: "run1"}
	src := pipeline.NewSource("ingest", w)

	runtime.GC()
	before := datasettest.LiveHeap()
	peak := datasettest.SampleHeap()
	_, err := Run(ctx, src, topics, Config{DataDir: dir, Datasets: []string{dataset.XQuADR},
		Read: dataset.Options{MaxFileBytes: 128 << 20}}, quiet())
	top := peak()
	if err != nil {
		t.Fatal(err)
	}
	const q, c = paragraphs * perParagraph, paragraphs * 2
	if got, want := src.Counts.Snapshot(), (pipeline.Snapshot{In: q + c, Out: q + c, Emitted: q + c}); got != want {
		t.Errorf("ingest counts %+v, want %+v", got, want)
	}
	if got := tr.rows.Load(); got != q+c {
		t.Errorf("%d records reached the items topic, want %d", got, q+c)
	}
	if got, want := tr.counts(), map[string]int64{"query": q, "candidate": c}; !reflect.DeepEqual(got, want) {
		t.Errorf("stream-end counts %v, want %v", got, want)
	}
	growth := int64(top.Live) - int64(before)
	t.Logf("file %.1f MB; live heap %.1f MiB before, peak %.1f MiB: grew %.1f MiB (bound %d MiB); heap with garbage peaked at %.1f MiB",
		float64(size)/1e6, float64(before)/(1<<20), float64(top.Live)/(1<<20), float64(growth)/(1<<20), millionHeapBound>>20, float64(top.Alloc)/(1<<20))
	if growth >= millionHeapBound {
		t.Errorf("live heap grew by %.1f MiB reading a %.1f MB file, want under %d MiB", float64(growth)/(1<<20), float64(size)/1e6, millionHeapBound>>20)
	}
}

// counting is a transport that keeps nothing of what is produced: it counts the records and the
// stream-end markers' counts, so that the heap measures the stage and not the topics.
type counting struct {
	*pipeline.Memory
	rows atomic.Int64
	mu   sync.Mutex
	ends map[string]int64 // item kind -> count its stream-end marker carries
}

func (c *counting) Produce(_ context.Context, msgs ...pipeline.Message) error {
	for _, msg := range msgs {
		switch schema, _ := msg.Header(schemas.HeaderSchema); schema {
		case schemas.Item.ID:
			rows, err := schemas.Item.Decode(msg.Value)
			if err != nil {
				return err
			}
			c.rows.Add(int64(len(rows)))
		case schemas.Markers.ID:
			ms, err := schemas.Markers.Decode(msg.Value)
			if err != nil {
				return err
			}
			c.mu.Lock()
			for _, mk := range ms {
				if mk.Kind == schemas.StreamEnd {
					if c.ends == nil {
						c.ends = map[string]int64{}
					}
					c.ends[string(mk.ItemKind)] += mk.Count
				}
			}
			c.mu.Unlock()
		}
	}
	return nil
}

func (c *counting) counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ends)
}
