package linearizability

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var tp0 = TopicPartition{Topic: "t", Partition: 0}

// app is an append acknowledged ok at offset.
func app(client int, call, ret, offset int64, values ...string) Op {
	return Op{Kind: OpAppend, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeOK, Offset: offset, Values: values}
}

// appUnknown is an append whose outcome the client never learned.
func appUnknown(client int, call, ret int64, values ...string) Op {
	return Op{Kind: OpAppend, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeUnknown, Values: values}
}

// appFailed is an append the broker definitely rejected.
func appFailed(client int, call, ret int64, values ...string) Op {
	return Op{Kind: OpAppend, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeFailed, Values: values}
}

// read is an ok fetch from offset that returned values and hw.
func read(client int, call, ret, offset, hw int64, values ...string) Op {
	return Op{Kind: OpRead, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeOK, Offset: offset, HighWatermark: hw, Values: values}
}

// oor is a fetch answered with OFFSET_OUT_OF_RANGE.
func oor(client int, call, ret, offset int64) Op {
	return Op{Kind: OpRead, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeOutOfRange, Offset: offset}
}

// endOffset is an ok ListOffsets(latest) answer.
func endOffset(client int, call, ret, offset int64) Op {
	return Op{Kind: OpEndOffset, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeOK, Offset: offset}
}

func final(op Op) Op { op.Final = true; return op }
func seek(op Op) Op  { op.Seek = true; return op }
func on(tp TopicPartition, op Op) Op {
	op.Partition = tp
	return op
}

func kinds(fs []Finding) []FindingKind {
	var out []FindingKind
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		// stale checks with ModelOptions.StaleHighWatermark.
		stale       bool
		wantVerdict Verdict
		wantKinds   []FindingKind
	}{
		// Violations.
		{
			name: "lost acknowledged write",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				app(1, 20, 30, 1, "b"),
				final(read(9, 40, 50, 0, 1, "a")),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{LostWrite},
		},
		{
			name: "unknown-outcome write that was read, then lost",
			history: []Op{
				appUnknown(1, 0, 10, "a"),
				read(2, 20, 30, 0, 1, "a"),
				final(read(9, 40, 50, 0, 0)),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{LostWrite},
		},
		{
			name: "reordered offsets: sequential sends acknowledged backwards",
			history: []Op{
				app(1, 0, 10, 1, "a"),
				app(1, 20, 30, 0, "b"),
				read(2, 40, 50, 0, 2, "b", "a"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{NonMonotonicSend},
		},
		{
			name: "reads contradict acknowledged offsets",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				app(2, 0, 10, 1, "b"),
				read(3, 20, 30, 0, 2, "b", "a"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{WrongAckOffset, WrongAckOffset},
		},
		{
			name: "stale read after acknowledged write",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				read(2, 20, 30, 0, 0),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "stale read tolerated with StaleHighWatermark",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				read(2, 20, 30, 0, 0),
			},
			stale:       true,
			wantVerdict: VerdictOK,
		},
		{
			name: "stale high watermark with values",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				app(1, 20, 30, 1, "b"),
				read(2, 40, 50, 0, 1, "a"),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "high watermark ahead of the log, even when stale is tolerated",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				read(2, 20, 30, 0, 2, "a"),
			},
			stale:       true,
			wantVerdict: VerdictIllegal,
		},
		{
			name: "duplicate: a retried unknown append applied twice",
			history: []Op{
				appUnknown(1, 0, 10, "a"),
				app(2, 0, 10, 1, "b"),
				read(3, 20, 30, 0, 3, "a", "b", "a"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{Duplicate},
		},
		{
			name: "inconsistent offset across two consumers",
			history: []Op{
				appUnknown(1, 0, 10, "a"),
				appUnknown(2, 0, 10, "b"),
				read(3, 20, 30, 0, 1, "a"),
				read(4, 20, 30, 0, 1, "b"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{InconsistentOffset},
		},
		{
			name: "definitely failed append becomes visible",
			history: []Op{
				appFailed(1, 0, 10, "a"),
				read(2, 20, 30, 0, 1, "a"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{UnexpectedValue},
		},
		{
			name: "value nobody sent",
			history: []Op{
				read(2, 20, 30, 0, 1, "zz"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{UnexpectedValue},
		},
		{
			name: "acknowledged at an offset the log never reached",
			history: []Op{
				app(1, 0, 10, 3, "a"),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "out of range at a committed offset",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				oor(2, 20, 30, 0),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "out of range tolerated with StaleHighWatermark",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				oor(2, 20, 30, 0),
			},
			stale:       true,
			wantVerdict: VerdictOK,
		},
		{
			name: "empty read past the committed log",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				read(2, 20, 30, 5, 1),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "stale end offset",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				endOffset(2, 20, 30, 0),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "poll skip: linearizable, caught by the offset checks",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				read(2, 20, 30, 0, 3, "a"),
				read(2, 40, 50, 2, 3, "c"),
				read(3, 60, 70, 0, 3, "a", "b", "c"),
			},
			wantVerdict: VerdictOK,
			wantKinds:   []FindingKind{PollSkip},
		},
		{
			name: "non-monotonic poll without a seek",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				read(2, 20, 30, 0, 2, "a", "b"),
				read(2, 40, 50, 1, 2, "b"),
			},
			wantVerdict: VerdictOK,
			wantKinds:   []FindingKind{NonMonotonicPoll},
		},

		{
			name: "acknowledged gap no unread unknown append can fill",
			history: []Op{
				appUnknown(1, 0, 10, "u1", "u2"),
				app(2, 20, 30, 1, "a"),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "unread unknown append cannot apply before it was sent",
			history: []Op{
				app(2, 0, 10, 1, "a"),
				appUnknown(1, 20, 30, "u"),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "unread unknown appends cannot make up an end offset",
			history: []Op{
				appUnknown(1, 0, 10, "u1"),
				appUnknown(2, 0, 10, "v1", "v2"),
				app(3, 20, 30, 2, "a"),
				endOffset(4, 40, 50, 5),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "an unknown append read at two bases",
			history: []Op{
				appUnknown(1, 0, 10, "u1", "u2"),
				read(2, 20, 30, 0, 2, "u1"),
				read(3, 20, 30, 0, 2, "u2"),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{InconsistentOffset},
		},

		// Clean histories.
		{
			name: "unread unknown appends fill offsets nobody read",
			history: []Op{
				appUnknown(1, 0, 10, "u1"),
				appUnknown(2, 0, 10, "v1", "v2"),
				// Only v1+v2 can make up 2; u1 then makes up the end offset.
				app(3, 20, 30, 2, "a"),
				read(5, 31, 35, 2, 3, "a"),
				endOffset(4, 40, 50, 4),
				read(5, 51, 55, 3, 4),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "unread unknown append behind a stale read",
			history: []Op{
				appUnknown(1, 0, 10, "u1", "u2"),
				read(2, 20, 30, 2, 1),
			},
			stale:       true,
			wantVerdict: VerdictOK,
		},
		{
			name: "clean concurrent history",
			history: []Op{
				// a1 and b1 overlap; a1 is committed first.
				app(1, 0, 100, 0, "a1"),
				app(2, 10, 60, 1, "b1"),
				// c1's client timed out, but it was applied (offset 2).
				appUnknown(3, 20, 40, "c1"),
				// d1's client timed out, and it was never applied.
				appUnknown(4, 25, 45, "d1"),
				// A prefix of the committed log: fetch size limits.
				read(5, 50, 55, 0, 2, "a1"),
				read(5, 56, 70, 1, 3, "b1", "c1"),
				app(1, 110, 120, 3, "a2"),
				endOffset(6, 121, 125, 4),
				read(5, 130, 140, 3, 4, "a2"),
				// At the high watermark: nothing, not out of range.
				read(5, 150, 160, 4, 4),
				oor(6, 150, 160, 9),
				appFailed(2, 150, 160, "b2"),
				final(read(7, 200, 210, 0, 4, "a1", "b1")),
				final(read(7, 211, 220, 2, 4, "c1", "a2")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "unknown append applied after its client gave up",
			history: []Op{
				appUnknown(1, 0, 10, "a"),
				app(2, 20, 30, 0, "b"),
				read(3, 40, 50, 0, 2, "b", "a"),
				final(read(9, 60, 70, 0, 2, "b", "a")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "seek backwards and forwards",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				read(2, 20, 30, 0, 3, "a", "b"),
				seek(read(2, 40, 50, 0, 3, "a")),
				seek(read(2, 60, 70, 2, 3, "c")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "pipelined sends of one producer are not ordered",
			history: []Op{
				app(1, 0, 30, 1, "a"),
				app(1, 10, 20, 0, "b"),
				read(2, 40, 50, 0, 2, "b", "a"),
			},
			wantVerdict: VerdictOK,
		},
		{
			name:        "empty history",
			wantVerdict: VerdictOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Model: ModelOptions{StaleHighWatermark: tt.stale}, Timeout: 10 * time.Second}
			report, err := Check(tt.history, opts)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := report.Linearizability.Verdict; got != tt.wantVerdict {
				t.Errorf("verdict %s, want %s\n%s", got, tt.wantVerdict, report)
			}
			if got := kinds(report.Findings); !slices.Equal(got, tt.wantKinds) {
				t.Errorf("findings %v, want %v\n%s", got, tt.wantKinds, report)
			}
			if want := tt.wantVerdict == VerdictOK && len(tt.wantKinds) == 0; report.OK() != want {
				t.Errorf("OK() = %v, want %v", report.OK(), want)
			}
		})
	}
}

func TestFindingStrings(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		want    []string
	}{
		{
			name: "lost write",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				app(1, 20, 30, 1, "b", "c"),
				final(read(9, 40, 50, 0, 1, "a")),
			},
			want: []string{`lost-write t-0: op #1 (client 1) wrote b @1, c @2 (acknowledged), missing from the final drain`},
		},
		{
			name: "duplicate",
			history: []Op{
				appUnknown(1, 0, 10, "a"),
				app(2, 0, 10, 1, "b"),
				read(3, 20, 30, 0, 3, "a", "b", "a"),
			},
			want: []string{`duplicate t-0: value a at offsets 0 (op #2) 2 (op #2)`},
		},
		{
			name: "inconsistent offset",
			history: []Op{
				appUnknown(1, 0, 10, "a"),
				appUnknown(2, 0, 10, "b"),
				read(3, 20, 30, 0, 1, "a"),
				read(4, 20, 30, 0, 1, "b"),
			},
			want: []string{`inconsistent-offset t-0: offset 0 holds a (op #2) and b (op #3)`},
		},
		{
			name: "wrong ack offset",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				app(2, 0, 10, 1, "b"),
				read(3, 20, 30, 0, 2, "b", "a"),
			},
			want: []string{
				`wrong-ack-offset t-0: op #0 (client 1) was acknowledged a at offset 0, but op #2 saw it at offset 1`,
				`wrong-ack-offset t-0: op #1 (client 2) was acknowledged b at offset 1, but op #2 saw it at offset 0`,
			},
		},
		{
			name: "unexpected values",
			history: []Op{
				appFailed(1, 0, 10, "a"),
				read(2, 20, 30, 0, 2, "a", "has space"),
			},
			want: []string{
				`unexpected-value t-0: op #1 read a at offset 0, which only op #0 sent, and it failed definitely`,
				`unexpected-value t-0: op #1 read "has space" at offset 1, which no append sent`,
			},
		},
		{
			name: "non-monotonic send",
			history: []Op{
				app(1, 0, 10, 1, "a", "b"),
				app(1, 20, 30, 2, "c"),
			},
			want: []string{`nonmonotonic-send t-0: client 1's op #1 (c) was acknowledged at offset 2, not after op #0 (a) which ends at 3 and returned before it was sent`},
		},
		{
			name: "poll skip and non-monotonic poll",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				read(2, 20, 30, 0, 3, "a"),
				read(2, 40, 50, 2, 3, "c"),
				read(2, 60, 70, 0, 3, "a"),
				read(3, 60, 70, 0, 3, "a", "b", "c"),
			},
			want: []string{
				`nonmonotonic-poll t-0: client 2 was at offset 3 after op #2, then op #3 read from offset 0 without a seek`,
				`poll-skip t-0: client 2 was at offset 1 after op #1, then op #2 read from offset 2 without a seek, skipping [b]`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := CheckOffsets(tt.history)
			if err != nil {
				t.Fatalf("CheckOffsets: %v", err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		wantErr string // substring; empty means valid
	}{
		{name: "valid", history: []Op{app(1, 0, 10, 0, "a"), read(2, 0, 10, 0, 1, "a")}},
		{name: "same value on two partitions", history: []Op{app(1, 0, 10, 0, "a"), on(TopicPartition{"t", 1}, app(1, 0, 10, 0, "a"))}},
		{name: "value sent twice", history: []Op{app(1, 0, 10, 0, "a"), appUnknown(2, 0, 10, "a")}, wantErr: "op #1 (client 2, t-0): value a was already sent by op #0"},
		{name: "return before call", history: []Op{app(1, 10, 5, 0, "a")}, wantErr: "returned at 5 before its call at 10"},
		{name: "empty append", history: []Op{app(1, 0, 10, 0)}, wantErr: "append of no values"},
		{name: "unknown read", history: []Op{{Kind: OpRead, Outcome: OutcomeUnknown}}, wantErr: "outcome unknown is not valid for a read"},
		{name: "out-of-range append", history: []Op{{Kind: OpAppend, Outcome: OutcomeOutOfRange, Values: []string{"a"}}}, wantErr: "outcome out-of-range is not valid for an append"},
		{name: "negative client", history: []Op{read(-1, 0, 10, 0, 0)}, wantErr: "negative client id"},
		{name: "final failed read", history: []Op{final(Op{Kind: OpRead, Outcome: OutcomeFailed})}, wantErr: "final read with outcome failed"},
		{name: "no kind", history: []Op{{}}, wantErr: "unknown op kind 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.history)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidHistory) {
				t.Fatalf("Validate = %v, want ErrInvalidHistory containing %q", err, tt.wantErr)
			}
			// Both entry points refuse it the same way.
			if _, err := Check(tt.history, Options{}); !errors.Is(err, ErrInvalidHistory) {
				t.Errorf("Check = %v, want ErrInvalidHistory", err)
			}
		})
	}
}

func TestIncompleteFinalDrain(t *testing.T) {
	history := []Op{
		app(1, 0, 10, 0, "a", "b", "c"),
		final(read(9, 20, 30, 0, 3, "a")),
		final(read(9, 31, 40, 2, 3, "c")),
	}
	_, err := CheckOffsets(history)
	if !errors.Is(err, ErrInvalidHistory) || !strings.Contains(err.Error(), "final drain of t-0 does not cover offsets 1 to 2 (high watermark 3)") {
		t.Fatalf("CheckOffsets = %v, want an incomplete-drain error", err)
	}
}

func TestVisualizationAndPartitions(t *testing.T) {
	bad := TopicPartition{Topic: "t", Partition: 1}
	history := []Op{
		app(1, 0, 10, 0, "a"),
		read(2, 20, 30, 0, 1, "a"),
		on(bad, app(1, 0, 10, 0, "x")),
		on(bad, read(2, 20, 30, 0, 0)), // stale
		on(TopicPartition{Topic: "s", Partition: 7}, app(3, 0, 10, 0, "y")),
	}
	dir := filepath.Join(t.TempDir(), "vis")
	res, err := CheckLinearizability(history, Options{VisualizationDir: dir, VisualizationName: "seed-42.html"})
	if err != nil {
		t.Fatalf("CheckLinearizability: %v", err)
	}
	if res.Verdict != VerdictIllegal {
		t.Fatalf("verdict %s, want illegal", res.Verdict)
	}
	if want := []TopicPartition{bad}; !reflect.DeepEqual(res.Unlinearized, want) {
		t.Errorf("Unlinearized %v, want %v", res.Unlinearized, want)
	}
	if want := filepath.Join(dir, "seed-42.html"); res.VisualizationPath != want {
		t.Errorf("VisualizationPath %q, want %q", res.VisualizationPath, want)
	}
	html, err := os.ReadFile(res.VisualizationPath)
	if err != nil {
		t.Fatalf("read visualization: %v", err)
	}
	for _, want := range []string{"<html", `read @0 -\u003e [] hw 0`, `append [x] -\u003e ok @0`, "op #3"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("visualization lacks %q", want)
		}
	}
	if !strings.Contains(res.String(), "not linearized: t-1") {
		t.Errorf("String() = %q", res.String())
	}

	// A linearizable history writes nothing.
	okDir := filepath.Join(t.TempDir(), "ok")
	res, err = CheckLinearizability(history[:2], Options{VisualizationDir: okDir})
	if err != nil || res.Verdict != VerdictOK || res.VisualizationPath != "" {
		t.Fatalf("clean history: %+v, %v", res, err)
	}
	if _, err := os.Stat(okDir); !os.IsNotExist(err) {
		t.Errorf("visualization dir created for a clean history: %v", err)
	}
}

// values returns a log's values, "?" for placeholders.
func (s logState) values() []string {
	entries, _ := s.snapshot()
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.value
		if e.placeholder {
			out[i] = "?"
		}
	}
	return out
}

func TestLogState(t *testing.T) {
	var empty logState
	ab := empty.append([]string{"a", "b"})
	abc := ab.append([]string{"c"}) // extends ab's backing in place
	abd := ab.append([]string{"d"}) // ab no longer ends its backing: copies
	if got := ab.values(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("ab = %v after extending it twice", got)
	}
	if got := abc.values(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("abc = %v", got)
	}
	if got := abd.values(); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("abd = %v", got)
	}
	if abc.backing == abd.backing {
		t.Errorf("branches share a backing")
	}
	other := empty.append([]string{"a"}).append([]string{"b", "c"})
	if !abc.equal(other) || abc.hash() != other.hash() {
		t.Errorf("equal logs from different backings compare unequal")
	}
	if abc.equal(abd) || ab.equal(abc) || !empty.equal(logState{}) {
		t.Errorf("equal is wrong")
	}
	// Order matters to the hash, not just membership.
	ba := empty.append([]string{"b", "a"})
	if ab.equal(ba) || ab.hash() == ba.hash() {
		t.Errorf("ab and ba collide")
	}
	if got, want := abc.String(), "len 3 [0:a 1:b 2:c]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// A placeholder is not a value, even one spelled "?".
	abq := ab.appendPlaceholders(1)
	abQ := ab.append([]string{"?"})
	if abq.equal(abQ) || abq.hash() == abQ.hash() || abq.holds(2, []string{"?"}) || !abQ.holds(2, []string{"?"}) {
		t.Errorf("placeholder confused with a value")
	}
	if !abq.holds(0, []string{"a", "b"}) || abq.holds(1, []string{"b", "?"}) {
		t.Errorf("holds is wrong")
	}
	if got, want := abq.String(), "len 3 [0:a 1:b 2:?]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDeterministicFindings(t *testing.T) {
	history := []Op{
		app(1, 0, 10, 0, "a", "b", "c"),
		appUnknown(4, 0, 10, "x"),
		appUnknown(5, 0, 10, "y"),
		read(2, 20, 30, 0, 3, "x"),
		read(3, 20, 30, 0, 3, "y", "b"),
		read(2, 40, 50, 2, 3, "c"),
		read(6, 40, 50, 0, 3, "a", "a", "zz"),
	}
	first, err := CheckOffsets(history)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := CheckOffsets(history)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("findings differ between runs:\n%v\n%v", first, again)
		}
	}
}

func TestOperations(t *testing.T) {
	history := []Op{
		appFailed(1, 0, 10, "f"),         // dropped
		appUnknown(2, 5, 10, "u1", "u2"), // read at 7..8 by op #3: base 7, returns with that read
		appUnknown(3, 6, 12, "p"),        // never read: pending, registered at its call
		read(4, 20, 30, 7, 9, "u1", "u2"),
		read(4, 15, 25, 8, 9, "u2"), // returns first: bounds #1's return
		oor(5, 40, 50, 99),          // dropped only with StaleHighWatermark
		{Kind: OpEndOffset, Client: 6, Partition: tp0, Call: 1, Return: 2, Outcome: OutcomeFailed}, // dropped
	}
	type row struct {
		index       int
		kind        inputKind
		base        int64
		call, ret   int64
		hasClaimSet bool
	}
	summarize := func(opts ModelOptions) []row {
		var out []row
		for _, o := range Operations(history, opts) {
			in := o.Input.(*modelInput)
			out = append(out, row{o.Metadata.(int), in.kind, in.base, o.Call, o.Return, in.claimed != nil})
		}
		return out
	}
	want := []row{
		{1, inputAppend, 7, 5, 25, true},
		{2, inputPending, 0, 6, 6, true},
		{3, inputRead, 0, 20, 30, true},
		{4, inputRead, 0, 15, 25, true},
		{5, inputOutOfRange, 0, 40, 50, true},
	}
	if got := summarize(ModelOptions{}); !reflect.DeepEqual(got, want) {
		t.Errorf("strict:\n got %v\nwant %v", got, want)
	}
	if got := summarize(ModelOptions{StaleHighWatermark: true}); !reflect.DeepEqual(got, want[:4]) {
		t.Errorf("stale:\n got %v\nwant %v", got, want[:4])
	}
}

func TestVisualizationWithPendingAppends(t *testing.T) {
	history := []Op{
		appUnknown(1, 0, 10, "u1", "u2"),
		appUnknown(3, 0, 10, "w"),
		app(2, 20, 30, 1, "a"),
		read(4, 40, 50, 1, 2, "a"),
		endOffset(4, 60, 70, 3),
	}
	dir := t.TempDir()
	res, err := CheckLinearizability(history, Options{VisualizationDir: dir})
	if err != nil || res.Verdict != VerdictIllegal {
		t.Fatalf("got %+v, %v; want illegal", res, err)
	}
	html, err := os.ReadFile(filepath.Join(dir, DefaultVisualizationName))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"never read: may apply later", "pending [1 2]", "len 2 [0:? 1:a]"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("visualization lacks %q", want)
		}
	}
}
