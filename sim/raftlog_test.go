package sim

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestMatchesTruth: a node's image is compared with the truth's after as
// many entries, byte for byte for recent ones and by hash for older ones,
// and a different encoding never matches.
func TestMatchesTruth(t *testing.T) {
	r := &raftModel{}
	img := func(i int) []byte { return []byte(fmt.Sprintf(`{"image after":%d}`, i)) }
	const commits = 40
	for k := 1; k <= commits; k++ {
		r.entries = append(r.entries, nil)
		slot := &r.recent[(k-1)%len(r.recent)]
		*slot = append((*slot)[:0], img(k)...)
		r.hashes = append(r.hashes, sha256.Sum256(img(k)))
	}
	for a := 1; a <= commits; a++ {
		if !r.matchesTruth(a, img(a)) {
			t.Errorf("the truth's own image after %d entries does not match", a)
		}
		if r.matchesTruth(a, img(a+1)) || r.matchesTruth(a, img(a-1)) {
			t.Errorf("a neighbour's image matches the truth after %d entries", a)
		}
	}
}
