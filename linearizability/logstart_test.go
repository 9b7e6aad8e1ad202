package linearizability

import (
	"slices"
	"testing"
	"time"
)

// startOffset is an ok ListOffsets(earliest) answer.
func startOffset(client int, call, ret, offset int64) Op {
	return Op{Kind: OpStartOffset, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeOK, Offset: offset}
}

// deleteRecords is an ok DeleteRecords before offset answered with the low
// watermark logStart.
func deleteRecords(client int, call, ret, offset, logStart int64) Op {
	return Op{Kind: OpDeleteRecords, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeOK, Offset: offset, LogStart: logStart}
}

// deleteUnknown is a DeleteRecords whose outcome the client never learned.
func deleteUnknown(client int, call, ret, offset int64) Op {
	return Op{Kind: OpDeleteRecords, Client: client, Partition: tp0, Call: call, Return: ret, Outcome: OutcomeUnknown, Offset: offset}
}

// retention marks retention in force from at.
func retention(at int64) Op {
	return Op{Kind: OpRetention, Partition: tp0, Call: at, Return: at, Outcome: OutcomeOK}
}

func TestLogStart(t *testing.T) {
	tests := []struct {
		name        string
		history     []Op
		stale       bool
		wantVerdict Verdict
		wantKinds   []FindingKind
	}{
		{
			name: "delete records, then earliest and a drain from the new start",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				deleteRecords(2, 20, 30, 2, 2),
				startOffset(3, 40, 50, 2),
				oor(3, 60, 70, 1),
				final(read(9, 80, 90, 2, 3, "c")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "read below an acknowledged delete",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				deleteRecords(2, 20, 30, 2, 2),
				read(3, 40, 50, 1, 3, "b", "c"),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "earliest below an acknowledged delete (start went back)",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				deleteRecords(2, 20, 30, 2, 2),
				startOffset(3, 40, 50, 0),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "earliest below an acknowledged delete tolerated by a stale model",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				deleteRecords(2, 20, 30, 2, 2),
				startOffset(3, 40, 50, 0),
			},
			stale:       true,
			wantVerdict: VerdictOK,
		},
		{
			name: "delete records past the committed log",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				deleteRecords(2, 20, 30, 2, 2),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "delete records past the committed log, stale model too",
			history: []Op{
				app(1, 0, 10, 0, "a"),
				deleteRecords(2, 20, 30, 2, 2),
			},
			stale:       true,
			wantVerdict: VerdictIllegal,
		},
		{
			name: "delete records answered below the requested offset",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				deleteRecords(2, 20, 30, 2, 1),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "earliest moved with nothing to move it",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				startOffset(3, 40, 50, 1),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "earliest moved by retention",
			history: []Op{
				retention(0),
				app(1, 0, 10, 0, "a", "b"),
				startOffset(3, 40, 50, 1),
				oor(3, 60, 70, 0),
				final(read(9, 80, 90, 1, 2, "b")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "retention never moves the start past the high watermark",
			history: []Op{
				retention(0),
				app(1, 0, 10, 0, "a", "b"),
				startOffset(3, 40, 50, 3),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "out of range below the high watermark with nothing to move the start",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				oor(3, 40, 50, 0),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "out of range below the start of an unanswered delete",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				deleteUnknown(2, 20, 30, 1),
				oor(3, 40, 50, 0),
				read(3, 60, 70, 1, 2, "b"),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "out of range above what an unanswered delete asked for",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				deleteUnknown(2, 20, 30, 1),
				oor(3, 40, 50, 1),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "after an out-of-range answer the start does not go back",
			history: []Op{
				retention(0),
				app(1, 0, 10, 0, "a", "b"),
				oor(3, 40, 50, 0),
				read(3, 60, 70, 0, 2, "a", "b"),
			},
			wantVerdict: VerdictIllegal,
		},
		{
			name: "write below the drain's start deleted by an acknowledged delete",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				deleteRecords(2, 20, 30, 1, 1),
				final(read(9, 80, 90, 1, 2, "b")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "write below the drain's start with nothing allowed to delete it",
			history: []Op{
				app(1, 0, 10, 0, "a", "b"),
				final(read(9, 80, 90, 1, 2, "b")),
			},
			wantVerdict: VerdictOK, // porcupine: nothing read contradicts it
			wantKinds:   []FindingKind{DeletedWrite},
		},
		{
			name: "write below the drain's start, above what the delete asked for",
			history: []Op{
				app(1, 0, 10, 0, "a", "b", "c"),
				deleteRecords(2, 20, 30, 1, 1),
				final(read(9, 80, 90, 2, 3, "c")),
			},
			wantVerdict: VerdictOK,
			wantKinds:   []FindingKind{DeletedWrite},
		},
		{
			name: "write below the drain's start deleted by retention",
			history: []Op{
				retention(0),
				app(1, 0, 10, 0, "a", "b"),
				final(read(9, 80, 90, 1, 2, "b")),
			},
			wantVerdict: VerdictOK,
		},
		{
			name: "write at or above the drain's start is still lost",
			history: []Op{
				retention(0),
				app(1, 0, 10, 0, "a", "b", "c"),
				final(read(9, 80, 90, 1, 2, "b")),
			},
			wantVerdict: VerdictIllegal,
			wantKinds:   []FindingKind{LostWrite},
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
		})
	}
}

// TestFinalDrainStartsOver: a drain that starts over from a later log
// start (with a seek) covers the partition from there; the values its
// first run read count as drained.
func TestFinalDrainStartsOver(t *testing.T) {
	history := []Op{
		retention(0),
		app(1, 0, 10, 0, "a", "b", "c", "d"),
		final(seek(read(9, 20, 30, 0, 4, "a"))),
		oor(9, 31, 40, 1),
		final(seek(read(9, 41, 50, 2, 4, "c", "d"))),
	}
	findings, err := CheckOffsets(history)
	if err != nil || len(findings) != 0 {
		t.Fatalf("CheckOffsets = %v, %v; want no findings", findings, err)
	}
	// Without retention, "b" below the new start is a deleted write.
	findings, err = CheckOffsets(history[1:])
	if err != nil || !slices.Equal(kinds(findings), []FindingKind{DeletedWrite}) || findings[0].Values[0] != "b" {
		t.Fatalf("CheckOffsets = %v, %v; want one deleted-write of b", findings, err)
	}
}
