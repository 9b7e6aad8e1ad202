package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestTracerEncoding: the trace hash is SHA-256 over the plain encoding
// (varints, length-prefixed strings, byte slices as their length and
// CRC-32C) however the tracer's buffer
// splits it into writes: fields of every size, including ones larger than
// the buffer, in random sequences.
func TestTracerEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// field returns random bytes: mostly short, now and then larger
	// than the tracer's buffer.
	field := func(short int) []byte {
		b := make([]byte, r.IntN(short))
		if r.IntN(50) == 0 {
			b = make([]byte, r.IntN(20000))
		}
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for round := range 30 {
		tr := newTracer()
		var want []byte
		for range r.IntN(5000) {
			switch r.IntN(3) {
			case 0:
				v := r.Uint64() >> r.IntN(64)
				tr.u64(v)
				want = binary.AppendUvarint(want, v)
			case 1:
				b := field(40)
				tr.str(string(b))
				want = append(binary.AppendUvarint(want, uint64(len(b))), b...)
			case 2:
				b := field(100)
				tr.bytes(b)
				want = binary.BigEndian.AppendUint32(binary.AppendUvarint(want, uint64(len(b))), crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
			}
		}
		if got, w := tr.sum(), fmt.Sprintf("%x", sha256.Sum256(want)); got != w {
			t.Fatalf("round %d: trace hash %s, want %s", round, got, w)
		}
	}
}
