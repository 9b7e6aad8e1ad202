package linearizability

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkCheckLinearizability times porcupine on one generated history of
// about 1300 operations on one partition: with its final drain, without it
// (unread unknown appends stay pending), and without it and with one read
// corrupted (an illegal history must be refuted, which means exhausting the
// search).
func BenchmarkCheckLinearizability(b *testing.B) {
	r := rand.New(rand.NewPCG(99, 7))
	history := genCleanHistory(r, genConfig{partitions: 1, producers: 6, consumers: 4, horizon: 3000})
	undrained := slices.DeleteFunc(slices.Clone(history), func(op Op) bool { return op.Final })
	j, _ := pick(r, undrained, func(op Op) bool { return op.Kind == OpRead && op.Outcome == OutcomeOK && len(op.Values) > 0 })
	corrupted := slices.Clone(undrained)
	corrupted[j].Values = slices.Clone(corrupted[j].Values)
	corrupted[j].Values[0] = "corrupt"
	for _, bc := range []struct {
		name    string
		history []Op
		want    Verdict
	}{
		{"drained", history, VerdictOK},
		{"undrained", undrained, VerdictOK},
		{"corrupted", corrupted, VerdictIllegal},
	} {
		for _, stale := range []bool{false, true} {
			name := bc.name
			if stale {
				name += "/stale"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					res, err := CheckLinearizability(bc.history, Options{Model: ModelOptions{StaleHighWatermark: stale}})
					if err != nil || res.Verdict != bc.want {
						b.Fatalf("verdict %s, err %v; want %s", res.Verdict, err, bc.want)
					}
				}
			})
		}
	}
}

// BenchmarkCheckOffsets times the offset checks on the same drained history.
func BenchmarkCheckOffsets(b *testing.B) {
	r := rand.New(rand.NewPCG(99, 7))
	history := genCleanHistory(r, genConfig{partitions: 1, producers: 6, consumers: 4, horizon: 3000})
	for b.Loop() {
		if findings, err := CheckOffsets(history); err != nil || len(findings) > 0 {
			b.Fatalf("findings %v, err %v", findings, err)
		}
	}
}
