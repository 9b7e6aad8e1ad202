package sim

import (
	"strings"
	"testing"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// A keyed batch decodes to its records: keys, values, tombstones (null
// values), keyless records and the id headers survive the round trip, and
// the end offset is past the batch.
func TestKeyedBatchRoundTrip(t *testing.T) {
	ws := []*cwrite{
		{id: "w1", key: "key1", value: "v1"},
		{id: "w2", key: "key2", tombstone: true},
		{id: "w3", keyless: true, value: "v3"},
	}
	b := buildKeyedBatch(ws, 1_700_000_000_000)
	// As stored at base offset 40.
	b[7] = 40
	recs, end, err := decodeKeyed(b, 41)
	if err != nil {
		t.Fatal(err)
	}
	if end != 43 {
		t.Fatalf("end %d, want 43", end)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records from offset 41, want 2: %+v", len(recs), recs)
	}
	if r := recs[0]; r.offset != 41 || r.key != "key2" || !r.tombstone || r.keyless || r.id != "w2" {
		t.Fatalf("record 41: %+v", r)
	}
	if r := recs[1]; r.offset != 42 || !r.keyless || r.tombstone || r.value != "v3" || r.id != "w3" {
		t.Fatalf("record 42: %+v", r)
	}
	b[len(b)-1] ^= 1
	if _, _, err := decodeKeyed(b, 40); err == nil || !strings.Contains(err.Error(), "corrupt batch served") {
		t.Fatalf("a flipped byte: %v, want a CRC error", err)
	}
}

// acked is an acknowledged write of key at offset, answered at ret.
func acked(id, key string, offset int64, ret Time, tombstone bool) *cwrite {
	return &cwrite{id: id, key: key, value: "v-" + id, tombstone: tombstone, outcome: lin.OutcomeOK, offset: offset, call: ret, ret: ret, seenAt: -1}
}

func TestMissingLatest(t *testing.T) {
	writes := []*cwrite{
		acked("w1", "a", 0, 1, false),
		acked("w2", "a", 1, 2, false), // a's latest before the read
		acked("w3", "b", 2, 3, false),
		acked("w4", "c", 3, 4, true), // c's latest: a tombstone
		acked("w5", "a", 4, 100, false),
		{id: "w6", key: "d", value: "x", outcome: lin.OutcomeUnknown},
		acked("w7", "e", 5, 5, false),
		{id: "w8", key: "e", tombstone: true, outcome: lin.OutcomeUnknown}, // may lie past w7
	}
	rec := func(cw *cwrite) crec {
		return crec{offset: cw.offset, key: cw.key, value: cw.value, tombstone: cw.tombstone, id: cw.id}
	}
	// A read begun at 10 that kept a's and b's latest: c's tombstone is
	// gone (legal), e is excused by a tombstone that may follow it.
	missing, gone, judged := missingLatest(writes, []crec{rec(writes[1]), rec(writes[2])}, 10, 6, 10)
	if len(missing) != 0 || gone != 1 || judged != 4 {
		t.Fatalf("a legal read: missing %q, tombstones gone %d, judged %d; want none, 1, 4", missing, gone, judged)
	}
	// A later record of the key stands for the latest one.
	if missing, _, _ := missingLatest(writes, []crec{rec(writes[4]), rec(writes[2])}, 10, 6, 10); len(missing) != 0 {
		t.Fatalf("a later record of a: %q", missing)
	}
	// Only an older record of a: its latest acknowledged one is gone.
	missing, _, _ = missingLatest(writes, []crec{rec(writes[0]), rec(writes[2])}, 10, 6, 10)
	if len(missing) != 1 || !strings.Contains(missing[0], `key "a"`) || !strings.Contains(missing[0], "w1 at offset 0") {
		t.Fatalf("a's latest gone: %q", missing)
	}
	// Tombstones sent at or after goneBefore are too recent to be gone:
	// c's (sent at 3) fails, and e's unknown one (sent at 0) still
	// excuses e.
	missing, gone, _ = missingLatest(writes, []crec{rec(writes[1]), rec(writes[2])}, 10, 6, 3)
	if len(missing) != 1 || gone != 0 || !strings.Contains(missing[0], `key "c"`) || !strings.Contains(missing[0], "too recent") {
		t.Fatalf("c's tombstone gone too early: missing %q, gone %d", missing, gone)
	}
	missing, _, _ = missingLatest(writes, []crec{rec(writes[1]), rec(writes[2]), rec(writes[3])}, 10, 6, 0)
	if len(missing) != 1 || !strings.Contains(missing[0], `key "e"`) {
		t.Fatalf("e's unknown tombstone too recent to excuse it: missing %q", missing)
	}
	// Writes acknowledged after the read began, or at or past its high
	// watermark, are not judged.
	// (Here only a's w2: b's w3 was answered at 3.)
	if missing, _, judged := missingLatest(writes, nil, 3, 2, 10); len(missing) != 1 || judged != 1 || !strings.Contains(missing[0], "w2") {
		t.Fatalf("an empty read begun at 3 up to 2: missing %q, judged %d; want a's w2 alone", missing, judged)
	}
}

func TestJudgeRecord(t *testing.T) {
	tp := lin.TopicPartition{Topic: "kv1", Partition: 0}
	k := &compactWorld{byID: map[string]*cwrite{}}
	add := func(cw *cwrite) *cwrite { cw.tp = tp; k.byID[cw.id] = cw; return cw }
	add(acked("w1", "a", 7, 1, false))
	add(&cwrite{id: "w2", key: "b", value: "v-w2", outcome: lin.OutcomeUnknown, seenAt: -1})
	add(&cwrite{id: "w3", key: "c", value: "v-w3", outcome: lin.OutcomeFailed, seenAt: -1})
	add(&cwrite{id: "w4", keyless: true, value: "v-w4", outcome: lin.OutcomeFailed, seenAt: -1})
	for _, c := range []struct {
		rec  crec
		want string // "" or a part of the verdict
	}{
		{crec{offset: 7, key: "a", value: "v-w1", id: "w1"}, ""},
		{crec{offset: 8, key: "a", value: "v-w1", id: "w1"}, "acknowledged at offset 7"},
		{crec{offset: 7, key: "a", value: "other", id: "w1"}, "written as"},
		{crec{offset: 9, key: "b", value: "v-w2", id: "w2"}, ""},
		{crec{offset: 10, key: "b", value: "v-w2", id: "w2"}, "read at offset 9 before"},
		{crec{offset: 11, key: "c", value: "v-w3", id: "w3"}, "refused"},
		{crec{offset: 12, keyless: true, value: "v-w4", id: "w4"}, "refused"},
		{crec{offset: 13, key: "z", value: "?", id: "w99"}, "never written"},
		{crec{offset: 14, key: "z", value: "?"}, "without the workload's id"},
	} {
		got := k.judgeRecord(tp, c.rec)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.rec, got, c.want)
		}
	}
	if got := k.judgeRecord(lin.TopicPartition{Topic: "kv2"}, crec{offset: 7, key: "a", value: "v-w1", id: "w1"}); !strings.Contains(got, "written to kv1") {
		t.Errorf("another partition: %q", got)
	}
}

func TestMissingYoung(t *testing.T) {
	writes := []*cwrite{
		acked("w1", "a", 0, 1, false),
		acked("w2", "a", 1, 5, false),
		acked("w3", "b", 2, 6, true),
		acked("w4", "a", 3, 20, false), // acknowledged after the read began
	}
	rec := func(cw *cwrite) crec { return crec{offset: cw.offset, key: cw.key, id: cw.id} }
	// Young from 5: w2 and w3 must be there; w1 may be gone.
	if missing, judged := missingYoung(writes, []crec{rec(writes[1]), rec(writes[2])}, 10, 4, 5); len(missing) != 0 || judged != 2 {
		t.Fatalf("both young records read: missing %q, judged %d", missing, judged)
	}
	missing, _ := missingYoung(writes, []crec{rec(writes[0]), rec(writes[2])}, 10, 4, 5)
	if len(missing) != 1 || !strings.Contains(missing[0], "w2") {
		t.Fatalf("w2 gone: %q", missing)
	}
	// Another record at w3's offset is not w3.
	other := crec{offset: 2, key: "b", id: "w9"}
	if missing, _ := missingYoung(writes, []crec{rec(writes[1]), other}, 10, 4, 5); len(missing) != 1 || !strings.Contains(missing[0], "w3") {
		t.Fatalf("w3's offset holding another record: %q", missing)
	}
}
