package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"xling/domain"
	"xling/schemas"
)

// echo is a stage that passes items on as tokens, rejects records whose text is "bad", and forwards
// stream-end markers with its own counts: the smallest stage with every part of the contract.
func echo(topics Topics) *Stage[schemas.Record] {
	out := topics.Tokens()
	return &Stage[schemas.Record]{
		Name: "echo", Input: topics.Items(), Outputs: []string{out.Name},
		Process: func(_ context.Context, key string, rows []schemas.Record, o *Output) error {
			var kept []schemas.Record
			for i, r := range rows {
				if r.Text == "bad" {
					o.Reject(i, r, errors.New("bad text"))
					continue
				}
				kept = append(kept, r)
			}
			return Emit(o, out, key, kept...)
		},
		End: func(_ context.Context, key string, m schemas.Marker, o *Output) error {
			o.EndStream(out.Name, key, m)
			return nil
		},
	}
}

// setup returns an in-memory transport with the evaluation topics and a worker for run "r1".
func setup(t *testing.T, partitions int) (context.Context, *Memory, Worker) {
	t.Helper()
	m := NewMemory()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	topics := Topics{Prefix: "t.", Partitions: partitions}
	if err := m.CreateTopics(ctx, partitions, topics.Evaluation()...); err != nil {
		t.Fatal(err)
	}
	return ctx, m, Worker{Transport: m, Topics: topics, RunID: "r1"}
}

// ingest produces each language's queries (texts as given) and closes each stream, then ends the run.
func ingest(t *testing.T, ctx context.Context, w Worker, texts map[string][]string) *Source {
	t.Helper()
	src, err := sendTexts(ctx, w, texts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// sendTexts is ingest for a transport that may refuse: it returns the first error.
func sendTexts(ctx context.Context, w Worker, texts map[string][]string) (*Source, error) {
	src := NewSource("ingest", w)
	for _, l := range slices.Sorted(maps.Keys(texts)) {
		var rows []schemas.Record
		for i, text := range texts[l] {
			rows = append(rows, schemas.Record{Dataset: "d", Lang: l, Kind: domain.Query, ID: fmt.Sprintf("%s/q/%d", l, i), Text: text})
		}
		out := src.Output("file")
		if err := Emit(out, w.Topics.Items(), "d/"+l, rows...); err != nil {
			return nil, err
		}
		out.EndStream(w.Topics.Items().Name, "d/"+l, schemas.Marker{Kind: schemas.StreamEnd, Dataset: "d", Lang: l, ItemKind: domain.Query})
		if err := src.Send(ctx, int64(len(rows)), out); err != nil {
			return nil, err
		}
	}
	if err := src.EndRun(ctx, w.Topics.Items().Name); err != nil {
		return nil, err
	}
	return src, nil
}

// read decodes a topic: data records by id, and stream-end counts by language.
func read(t *testing.T, m *Memory, topic string) (ids []string, ends map[string]int64, runEnds int) {
	t.Helper()
	ends = map[string]int64{}
	for _, msg := range m.Messages(topic) {
		got, streamEnds, n := decodeTokens(t, msg)
		ids = append(ids, got...)
		for _, mk := range streamEnds {
			ends[mk.Lang] += mk.Count
		}
		runEnds += n
	}
	slices.Sort(ids)
	return ids, ends, runEnds
}

// decodeTokens decodes a message of a tokens topic: the ids of its records, or its stream-end markers and
// how many run-end markers it holds.
func decodeTokens(t *testing.T, msg Message) (ids []string, streamEnds []schemas.Marker, runEnds int) {
	t.Helper()
	if schema, _ := msg.Header(schemas.HeaderSchema); schema == schemas.Markers.ID {
		ms, err := schemas.Markers.Decode(msg.Value)
		if err != nil {
			t.Fatalf("%s: %v", msg.Source(), err)
		}
		for _, mk := range ms {
			if mk.Kind == schemas.StreamEnd {
				streamEnds = append(streamEnds, mk)
			} else {
				runEnds++
			}
		}
		return nil, streamEnds, runEnds
	}
	rows, err := schemas.Tokens.Decode(msg.Value)
	if err != nil {
		t.Fatalf("%s: %v", msg.Source(), err)
	}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids, nil, 0
}

func TestRunPassesRecordsRejectsAndMarkersOn(t *testing.T) {
	ctx, m, w := setup(t, 2)
	// A message nobody can decode, one of another run, and a marker message that is not a marker.
	if err := m.Produce(ctx,
		Message{Topic: w.Topics.Items().Name, Partition: 0, Value: []byte("garbage"), Headers: []Header{{schemas.HeaderSchema, []byte(schemas.Item.ID)}, {HeaderRun, []byte("r1")}}},
		Message{Topic: w.Topics.Items().Name, Partition: 0, Value: []byte("other run"), Headers: []Header{{schemas.HeaderSchema, []byte(schemas.Item.ID)}, {HeaderRun, []byte("r0")}}},
		Message{Topic: w.Topics.Items().Name, Partition: 1, Value: []byte("not a marker"), Headers: []Header{{schemas.HeaderSchema, []byte(schemas.Markers.ID)}, {HeaderRun, []byte("r1")}}},
	); err != nil {
		t.Fatal(err)
	}
	src := ingest(t, ctx, w, map[string][]string{"en": {"a", "bad", "c"}, "th": {"d", "e"}})
	st := echo(w.Topics)
	if err := Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	ids, ends, runEnds := read(t, m, w.Topics.Tokens().Name)
	if want := []string{"en/q/0", "en/q/2", "th/q/0", "th/q/1"}; !slices.Equal(ids, want) {
		t.Errorf("tokens = %v, want %v", ids, want)
	}
	if ends["en"] != 2 || ends["th"] != 2 {
		t.Errorf("stream-end counts = %v, want en 2 (one rejected), th 2", ends)
	}
	// Each of the 2 output partitions hears that each of the 2 input partitions ended.
	if runEnds != 4 {
		t.Errorf("%d run-end markers, want 4", runEnds)
	}
	got := st.Counts.Snapshot()
	if want := (Snapshot{In: 5, Out: 4, Dead: 1, DeadMessages: 2, Emitted: 4}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	if s := src.Counts.Snapshot(); s.Emitted != got.In {
		t.Errorf("ingest emitted %d, echo read %d", s.Emitted, got.In)
	}
	var reasons []string
	for _, msg := range m.Messages(w.Topics.DeadLetter()) {
		r, _ := msg.Header(HeaderReason)
		src, _ := msg.Header(HeaderSource)
		reasons = append(reasons, r+" @ "+src)
	}
	if len(reasons) != 3 || !strings.Contains(strings.Join(reasons, "\n"), "bad text @ t.items/") {
		t.Errorf("dead letters = %q, want the rejected record and the two undecodable messages with their sources", reasons)
	}
}

func TestRunSplitsMessagesUnderTheSizeLimitInOrder(t *testing.T) {
	ctx, m, w := setup(t, 1)
	text := strings.Repeat("x", 64<<10)
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = text
	}
	ingest(t, ctx, w, map[string][]string{"en": texts})
	for _, msg := range m.Messages(w.Topics.Items().Name) {
		if len(msg.Value) > MaxMessageBytes {
			t.Errorf("message %s is %d bytes, over %d", msg.Source(), len(msg.Value), MaxMessageBytes)
		}
	}
	if n := len(m.Messages(w.Topics.Items().Name)); n < 4 {
		t.Errorf("%d messages for 4 MiB of records: not split", n)
	}
	if err := Run(ctx, w, echo(w.Topics)); err != nil {
		t.Fatal(err)
	}
	ids, ends, _ := read(t, m, w.Topics.Tokens().Name)
	if len(ids) != 64 || ends["en"] != 64 {
		t.Errorf("%d tokens, stream end counts %d; want 64 and 64", len(ids), ends["en"])
	}
}

// A stage that fails half way and is started again ends with the same output records (some twice on the
// topic, which downstream keeps once) and exact stream-end counts: offsets were committed only where no
// stream was half read, with the run ends that came before.
func TestRestartAfterAFailureLosesNothingAndCountsOnce(t *testing.T) {
	ctx, m, w := setup(t, 1)
	ingest(t, ctx, w, map[string][]string{"de": {"1", "2", "3"}, "en": {"4", "5"}, "fr": {"6"}})
	st := echo(w.Topics)
	process := st.Process
	calls := 0
	st.Process = func(ctx context.Context, key string, rows []schemas.Record, o *Output) error {
		calls++
		if calls == 2 { // en: after de was closed
			return errors.New("crash")
		}
		return process(ctx, key, rows, o)
	}
	if err := Run(ctx, w, st); err == nil || !strings.Contains(err.Error(), "crash") {
		t.Fatalf("first run: err = %v, want the crash", err)
	}
	if err := Run(ctx, w, echo(w.Topics)); err != nil {
		t.Fatal(err)
	}
	ids, ends, _ := read(t, m, w.Topics.Tokens().Name)
	if want := []string{"de/q/0", "de/q/1", "de/q/2", "en/q/0", "en/q/1", "fr/q/0"}; !slices.Equal(slices.Compact(ids), want) {
		t.Errorf("distinct tokens = %v, want %v", slices.Compact(ids), want)
	}
	if ends["de"] != 3 || ends["en"] != 2 || ends["fr"] != 1 {
		t.Errorf("stream-end counts = %v, want de 3, en 2, fr 1 (de once: its offsets were committed)", ends)
	}
	// Restarted once more after the run ended: the commit says every upstream partition has ended, so it
	// ends at once and sends nothing but run ends.
	before := len(m.Messages(w.Topics.Tokens().Name))
	if err := Run(ctx, w, echo(w.Topics)); err != nil {
		t.Fatal(err)
	}
	if after := m.Messages(w.Topics.Tokens().Name); len(after) != before+1 {
		t.Errorf("a restart after the end wrote %d messages, want 1 run-end marker", len(after)-before)
	}
}

// A stateful stage commits only while settled: restarted, it reads again everything since.
func TestSettledGatesCommits(t *testing.T) {
	ctx, m, w := setup(t, 1)
	ingest(t, ctx, w, map[string][]string{"de": {"1"}, "en": {"2"}})
	settled := false
	var seen []string
	st := &Stage[schemas.Record]{Name: "hold", Input: w.Topics.Items(), Settled: func() bool { return settled },
		Process: func(_ context.Context, _ string, rows []schemas.Record, _ *Output) error {
			for _, r := range rows {
				seen = append(seen, r.ID)
			}
			return nil
		},
		Finish: func(context.Context, *Output) error { return errors.New("stop before settling") },
	}
	if err := Run(ctx, w, st); err == nil {
		t.Fatal("want the Finish error")
	}
	st.Finish = func(context.Context, *Output) error { settled = true; return nil }
	st.Counts = Counts{}
	if err := Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	if want := []string{"de/q/0", "en/q/0", "de/q/0", "en/q/0"}; !slices.Equal(seen, want) {
		t.Errorf("records seen = %v, want both twice (nothing was committed while unsettled)", seen)
	}
	settled = true
	seen = nil
	st.Finish = nil
	if err := Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Errorf("after a settled finish a restart read %v again", seen)
	}
	_ = m
}

// Two members of a group split the partitions and, together, produce what one member does.
func TestTwoMembersShareThePartitions(t *testing.T) {
	texts := map[string][]string{"ar": {"a", "b"}, "de": {"c"}, "en": {"d", "e", "bad"}, "es": {"f"}, "hi": {"g", "h"}, "ru": {"i"}}
	var want []string
	for _, members := range []int{1, 2} {
		ctx, m, w := setup(t, 4)
		ingest(t, ctx, w, texts)
		errc := make(chan error, members)
		stages := make([]*Stage[schemas.Record], members)
		for i := range members {
			stages[i] = echo(w.Topics)
			go func() { errc <- Run(ctx, w, stages[i]) }()
		}
		for range members {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		ids, ends, _ := read(t, m, w.Topics.Tokens().Name)
		ids = slices.Compact(ids)
		if members == 1 {
			want = ids
		} else if !slices.Equal(ids, want) {
			t.Errorf("2 members produced %v, 1 member %v", ids, want)
		}
		// A rebalance may make a stream's end go out twice (at least once delivery), each time with the
		// stream's whole count.
		for lang, want := range map[string]int64{"ar": 2, "de": 1, "en": 2, "es": 1, "hi": 2, "ru": 1} {
			if n := ends[lang]; n == 0 || n%want != 0 {
				t.Errorf("%d members: stream-end counts of %s sum to %d, want a multiple of %d", members, lang, n, want)
			}
		}
	}
	if len(want) != 9 {
		t.Errorf("one member produced %d records, want 9", len(want))
	}
}

func TestMisconfiguredWorkersFailClearly(t *testing.T) {
	t.Run("a topic of another schema", func(t *testing.T) {
		ctx, m, w := setup(t, 1)
		st := echo(w.Topics)
		st.Input = w.Topics.Tokens() // items in, but the stage is pointed at its own output topic
		src := NewSource("ingest", w)
		out := src.Output("test")
		if err := Emit(out, w.Topics.Embeddings(), "d", schemas.Record{ID: "x", Kind: domain.Query}); err != nil {
			t.Fatal(err)
		}
		out.msgs[0].Topic = w.Topics.Tokens().Name
		if err := src.Send(ctx, 1, out); err != nil {
			t.Fatal(err)
		}
		err := Run(ctx, w, st)
		if err == nil || !strings.Contains(err.Error(), "carries xling.embedding.v1 messages") || !strings.Contains(err.Error(), "t.tokens") {
			t.Errorf("err = %v, want one naming the topic and both schemas", err)
		}
		_ = m
	})
	t.Run("a broker that is down", func(t *testing.T) {
		start := time.Now()
		_, err := Connect(context.Background(), BrokerConfig{Addrs: []string{"127.0.0.1:1"}, DialTimeout: 2 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("err = %v, want one naming the address", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s to fail", d)
		}
	})
	t.Run("a listener that is not Kafka", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() { // accepts and never answers
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		start := time.Now()
		_, err = Connect(context.Background(), BrokerConfig{Addrs: []string{l.Addr().String()}, DialTimeout: 2 * time.Second})
		if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
			t.Errorf("err = %v, want one naming the address", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s to fail", d)
		}
	})
}

// Observe hears of every message of the run the stage handles (records and markers), and of no other run's.
func TestObserveIsToldOfEveryMessageOfTheRun(t *testing.T) {
	ctx, m, w := setup(t, 2)
	other := Message{Topic: w.Topics.Items().Name, Partition: 0, Value: []byte("x"), Headers: []Header{{schemas.HeaderSchema, []byte(schemas.Item.ID)}, {HeaderRun, []byte("r0")}}}
	if err := m.Produce(ctx, other); err != nil {
		t.Fatal(err)
	}
	ingest(t, ctx, w, map[string][]string{"en": {"a", "b"}, "th": {"c"}})
	ours := 0
	for _, msg := range m.Messages(w.Topics.Items().Name) {
		if run, _ := msg.Header(HeaderRun); run == "r1" {
			ours++
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	w.Observe = func(stage string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		seen[stage]++
	}
	if err := Run(ctx, w, echo(w.Topics)); err != nil {
		t.Fatal(err)
	}
	// 2 record messages, 2 stream ends, a run end to each of the 2 partitions.
	if ours != 6 || len(seen) != 1 || seen["echo"] != ours {
		t.Errorf("observed %v for %d messages of the run, want echo: 6", seen, ours)
	}
}

// A member whose partitions are done stays while another member's are not: when that member dies (here: its
// session ends without it ever reading), its partitions pass to the one still there, and nothing is orphaned.
func TestAFinishedMemberWaitsForADeadOnesPartitions(t *testing.T) {
	ctx, m, w := setup(t, 4)
	ingest(t, ctx, w, map[string][]string{"ar": {"a"}, "de": {"b"}, "en": {"c"}, "es": {"d"}, "hi": {"e"}, "ru": {"f"}})
	st := echo(w.Topics)
	dead, err := m.Join(ctx, w.Topics.Prefix+st.Name, st.Input.Name) // joins first, holds partitions, never reads
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, w, st) }()
	select {
	case err := <-errc:
		t.Fatalf("the live member returned (%v) while the dead one's partitions were unread", err)
	case <-time.After(1500 * time.Millisecond):
	}
	dead.Close() // the group notices the member is gone
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ids, _, _ := read(t, m, w.Topics.Tokens().Name)
	if len(slices.Compact(ids)) != 6 {
		t.Errorf("tokens %v, want all 6 records", ids)
	}
}

// An output larger than flushBytes reaches the topic while the stage is still making it (the scorer's
// pool is one such output): it is never held whole. Its records all arrive, with the stream's count.
func TestALargeOutputIsProducedWhileItIsMade(t *testing.T) {
	ctx, m, w := setup(t, 1)
	ingest(t, ctx, w, map[string][]string{"en": {"a"}})
	out := w.Topics.Tokens()
	const copies = 400 // of 100 KiB of token ids: about 40 MiB, past flushBytes twice
	big := make([]int64, 100<<10/8)
	seenWhileMaking := 0
	st := echo(w.Topics)
	st.Process = func(_ context.Context, key string, rows []schemas.Record, o *Output) error {
		for _, r := range rows {
			for i := range copies {
				c := r
				c.ID, c.TokenIDs = fmt.Sprintf("%s-%d", r.ID, i), big
				if err := Emit(o, out, key, c); err != nil {
					return err
				}
			}
			for deadline := time.Now().Add(10 * time.Second); len(m.Messages(out.Name)) == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			seenWhileMaking = len(m.Messages(out.Name))
		}
		return nil
	}
	if err := Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	if seenWhileMaking == 0 {
		t.Error("nothing reached the topic before the output was complete")
	}
	ids, ends, _ := read(t, m, out.Name)
	if n := len(slices.Compact(ids)); n != copies || len(ends) != 1 || slices.Collect(maps.Values(ends))[0] != copies {
		t.Errorf("%d distinct records and stream ends %v, want %d and one that counts them", n, ends, copies)
	}
}

// Run gives back every Arrow buffer it takes, decoding and encoding, whatever the input holds: records,
// rejects and markers; messages it cannot decode, which it dead-letters; and a stage that fails. The
// worker's allocator counts them, and must be at zero once Run returns.
func TestRunReleasesWhatItDecodes(t *testing.T) {
	good, err := schemas.Item.Encode([]schemas.Record{{Dataset: "d", Lang: "en", Kind: domain.Query, ID: "en/q/9", Text: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	raw := func(schema string, value []byte) Message {
		return Message{Topic: "t.items", Partition: 0, Value: value, Headers: []Header{{schemas.HeaderSchema, []byte(schema)}, {HeaderRun, []byte("r1")}}}
	}
	corrupt := bytes.Clone(good)
	for i := len(corrupt) / 2; i < len(corrupt); i += 5 {
		corrupt[i] ^= 0xff
	}
	tests := []struct {
		name    string
		before  []Message // produced before the records
		fail    bool      // the stage's Process fails on its first message
		wantErr string
	}{
		{name: "records, rejects and markers"},
		{name: "a message that is not Arrow", before: []Message{raw(schemas.Item.ID, []byte("garbage"))}},
		{name: "a truncated message", before: []Message{raw(schemas.Item.ID, good[:len(good)-24])}},
		{name: "a corrupt message", before: []Message{raw(schemas.Item.ID, corrupt)}},
		{name: "a marker message that is not a marker", before: []Message{raw(schemas.Markers.ID, good)}},
		{name: "a message of an unknown schema", before: []Message{raw("xling.unknown.v9", good)}},
		{name: "a stage that fails", fail: true, wantErr: "echo failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, m, w := setup(t, 1)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			w.Allocator = mem
			if err := m.Produce(ctx, tc.before...); err != nil {
				t.Fatal(err)
			}
			ingest(t, ctx, w, map[string][]string{"en": {"a", "bad", "c"}, "th": {"d"}})
			st := echo(w.Topics)
			if tc.fail {
				st.Process = func(context.Context, string, []schemas.Record, *Output) error { return errors.New("echo failed") }
			}
			err := Run(ctx, w, st)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Run: err = %v, want %q", err, tc.wantErr)
			}
			if c := st.Counts.Snapshot(); c.DeadMessages != int64(len(tc.before)) {
				t.Errorf("%d messages dead-lettered whole, want %d", c.DeadMessages, len(tc.before))
			}
			mem.AssertSize(t, 0)
		})
	}
}
