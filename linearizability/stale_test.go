package linearizability

import "testing"

// mayBeStale marks op as answered by a broker that may lag the committed
// log (a deposed leader, or a new one whose high watermark lags).
func mayBeStale(op Op) Op { op.MayBeStale = true; return op }

// TestPerReadStaleness checks that Op.MayBeStale relaxes the read rules for
// the marked read only: the histories the issue names, answered by the
// current leader, are rejected, while the same answers from a deposed
// leader are accepted, and a stale answer still may not invent data.
func TestPerReadStaleness(t *testing.T) {
	acked := []Op{app(1, 0, 10, 0, "a"), app(1, 20, 30, 1, "b")}
	tests := []struct {
		name  string
		reads []Op
		want  Verdict
	}{
		{"fresh reader sees nothing, hw 0, from the current leader", []Op{read(2, 40, 50, 0, 0)}, VerdictIllegal},
		{"fresh reader sees nothing, hw 0, from a deposed leader", []Op{mayBeStale(read(2, 40, 50, 0, 0))}, VerdictOK},
		{"out of range at a committed offset from the current leader", []Op{oor(2, 40, 50, 1)}, VerdictIllegal},
		{"out of range at a committed offset from a deposed leader", []Op{mayBeStale(oor(2, 40, 50, 1))}, VerdictOK},
		{"end offset 1 from the current leader", []Op{endOffset(2, 40, 50, 1)}, VerdictIllegal},
		{"end offset 1 from a deposed leader", []Op{mayBeStale(endOffset(2, 40, 50, 1))}, VerdictOK},
		{
			"one reader's hw goes from 2 back to 0 at the current leader",
			[]Op{read(2, 40, 50, 0, 2, "a", "b"), seek(read(2, 60, 70, 0, 0))},
			VerdictIllegal,
		},
		{
			"one reader's hw goes from 2 back to 0 at a deposed leader",
			[]Op{read(2, 40, 50, 0, 2, "a", "b"), mayBeStale(seek(read(2, 60, 70, 0, 0)))},
			VerdictOK,
		},
		{
			"a stale read of committed data with a lagging hw",
			[]Op{mayBeStale(read(3, 40, 50, 0, 1, "a"))},
			VerdictOK,
		},
		{
			// Staleness is per read: the unmarked read in the same history
			// is still held to the exact rule.
			"a stale read next to an exact one that lags",
			[]Op{mayBeStale(read(3, 40, 50, 0, 1, "a")), read(2, 40, 50, 0, 1, "a")},
			VerdictIllegal,
		},
		{
			"a stale read may not return what was never committed",
			[]Op{mayBeStale(read(3, 40, 50, 0, 2, "a", "x"))},
			VerdictIllegal,
		},
		{
			"a stale read may not report a high watermark past the committed log",
			[]Op{mayBeStale(read(3, 40, 50, 0, 3, "a", "b"))},
			VerdictIllegal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			history := append(append([]Op(nil), acked...), tt.reads...)
			res, err := CheckLinearizability(history, Options{})
			if err != nil {
				t.Fatalf("CheckLinearizability: %v", err)
			}
			if res.Verdict != tt.want {
				t.Errorf("verdict %s, want %s: %s", res.Verdict, tt.want, res)
			}
		})
	}
}
