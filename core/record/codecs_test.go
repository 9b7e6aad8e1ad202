package record

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/klauspost/compress/snappy"
)

// codecInput is one Decompress call of the reuse test.
type codecInput struct {
	name  string
	codec Codec
	src   []byte
	limit int
	// want is the output src must give; tooLarge says it must fail with
	// ErrTooLarge instead. Neither: the outcome is only compared.
	want     []byte
	tooLarge bool
}

// reuseInputs are compressed blocks of every codec and layout, each good,
// truncated, bit-flipped and over a limit, plus empty and garbage input,
// in an order that makes each codec's state see different frames, sizes
// and limits one after the other.
func reuseInputs(t *testing.T) []codecInput {
	t.Helper()
	small := []byte("a small records block")
	big := bytes.Repeat([]byte("chronik record payload, repeated "), 3000) // ~100 KiB
	// bomb inflates past zstdMinMemory: a limit below it must stop the
	// zstd decoder early, which needs the decoder's limit lowered again
	// after a call with a roomy one.
	bomb := make([]byte, zstdMinMemory+zstdMinMemory/2)
	var stream bytes.Buffer
	w := snappy.NewBufferedWriter(&stream)
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var ins []codecInput
	for _, src := range [][]byte{big, small, bomb} {
		for _, tc := range codecCases {
			packed, err := Compress(tc.codec, src, tc.xerial)
			if err != nil {
				t.Fatal(err)
			}
			flipped := append([]byte(nil), packed...)
			flipped[len(flipped)*2/3] ^= 0x5a
			name := fmt.Sprintf("%s/%d", tc.name, len(src))
			ins = append(ins,
				codecInput{name: name + "/good", codec: tc.codec, src: packed, limit: len(src), want: src},
				codecInput{name: name + "/over-limit", codec: tc.codec, src: packed, limit: len(src) - 1, tooLarge: true},
				codecInput{name: name + "/truncated", codec: tc.codec, src: packed[:len(packed)/2], limit: len(src)},
				codecInput{name: name + "/flipped", codec: tc.codec, src: flipped, limit: len(src)},
				codecInput{name: name + "/roomy-limit", codec: tc.codec, src: packed, limit: 64 << 20, want: src},
				codecInput{name: name + "/small-limit", codec: tc.codec, src: packed, limit: 1 << 10, tooLarge: len(src) > 1<<10},
				codecInput{name: name + "/empty", codec: tc.codec, limit: 1 << 20},
			)
		}
	}
	ins = append(ins,
		codecInput{name: "snappy-stream/good", codec: CodecSnappy, src: stream.Bytes(), limit: len(big), want: big},
		codecInput{name: "snappy-stream/over-limit", codec: CodecSnappy, src: stream.Bytes(), limit: len(big) - 1, tooLarge: true},
		codecInput{name: "snappy-stream/truncated", codec: CodecSnappy, src: stream.Bytes()[:stream.Len()/2], limit: len(big)},
	)
	for _, c := range []Codec{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		ins = append(ins, codecInput{name: c.String() + "/garbage", codec: c, src: []byte("not compressed data at all, long enough to look like some"), limit: 1 << 20})
	}
	return ins
}

// TestCodecsReuseMatchesFresh pins that one Codecs used for call after call
// (as the broker uses its own) answers every call exactly as fresh
// decoders would: the same bytes or the same error, whatever the earlier
// calls decoded, failed on or were limited to. Compressing likewise gives
// the bytes a fresh encoder gives. The inputs run twice, the second time
// in reverse, so that every input follows a different one.
func TestCodecsReuseMatchesFresh(t *testing.T) {
	ins := reuseInputs(t)
	order := make([]codecInput, 0, 2*len(ins))
	order = append(order, ins...)
	for i := len(ins) - 1; i >= 0; i-- {
		order = append(order, ins[i])
	}
	var reused Codecs
	outcomes := map[string]int{}
	for _, in := range order {
		want, wantErr := Decompress(in.codec, in.src, in.limit)
		got, gotErr := reused.Decompress(in.codec, in.src, in.limit)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
			t.Fatalf("%s: reused codecs gave %d bytes, %v; fresh ones %d bytes, %v", in.name, len(got), gotErr, len(want), wantErr)
		}
		switch {
		case in.want != nil && (gotErr != nil || !bytes.Equal(got, in.want)):
			t.Fatalf("%s: %d bytes, %v; want the %d bytes compressed", in.name, len(got), gotErr, len(in.want))
		case in.tooLarge && !errors.Is(gotErr, ErrTooLarge):
			t.Fatalf("%s: %v, want ErrTooLarge", in.name, gotErr)
		}
		if wantErr == nil {
			outcomes["ok"]++
		} else {
			outcomes["error"]++
		}
	}
	// Both kinds of outcome must have been compared, or the test could
	// pass on inputs that all fail (or all succeed) alike.
	if outcomes["ok"] < 20 || outcomes["error"] < 40 {
		t.Fatalf("outcomes %v: the inputs no longer exercise success and failure", outcomes)
	}
	for _, src := range [][]byte{bytes.Repeat([]byte("xyz"), 50000), []byte("tiny"), nil, bytes.Repeat([]byte{7}, 5000)} {
		for _, tc := range codecCases {
			want, err := Compress(tc.codec, src, tc.xerial)
			if err != nil {
				t.Fatal(err)
			}
			got, err := reused.Compress(tc.codec, src, tc.xerial)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("compress %s of %d bytes: reused encoder differs from a fresh one (%v)", tc.name, len(src), err)
			}
		}
	}
}

// TestCodecsKeepBoundedMemory pins the bound Codecs promises: after
// encoding and decoding one 24 MiB block per codec, what the Codecs still
// holds (the live heap once the blocks, the outputs and the libraries'
// pools are gone) stays small. Keeping an output, an input, or a zstd
// window of the block's size would each hold megabytes.
func TestCodecsKeepBoundedMemory(t *testing.T) {
	// Poorly compressible data (an LCG's bytes in runs of 8), so that the
	// compressed inputs are large too.
	src := make([]byte, 24<<20)
	x := uint32(1)
	for i := range src {
		if i%8 == 0 {
			x = x*1664525 + 1013904223
		}
		src[i] = byte(x >> 24)
	}
	codecs := []Codec{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}
	packed := map[Codec][]byte{}
	packedBytes := 0
	for _, c := range codecs {
		p, err := Compress(c, src, false)
		if err != nil {
			t.Fatal(err)
		}
		packed[c] = p
		packedBytes += cap(p)
	}
	var c Codecs
	for _, codec := range codecs {
		// Build each encoder and decoder on a small block first: their
		// fixed cost (tables) belongs to the baseline, not to the growth
		// measured.
		small, err := c.Compress(codec, []byte("warm-up"), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decompress(codec, small, 1<<10); err != nil {
			t.Fatal(err)
		}
	}
	before := liveHeap() // with src and the packed blocks
	for _, codec := range codecs {
		if _, err := c.Compress(codec, src, false); err != nil {
			t.Fatal(err)
		}
		out, err := c.Decompress(codec, packed[codec], 32<<20)
		if err != nil || len(out) != len(src) {
			t.Fatalf("%v: %d bytes, %v", codec, len(out), err)
		}
	}
	clear(packed)
	after := liveHeap() // with src only
	runtime.KeepAlive(src)
	runtime.KeepAlive(&c)
	// What stays (1.6 MB measured): zstd's per-block decoding buffers (3
	// x 128 KiB and the sequences), its encoder's 64 KiB window with the
	// tables and block buffers (1.2 MB), flate's window and tables, and
	// snappy's 64 KiB chunks.
	const bound = 4 << 20
	grew := int64(after) - (int64(before) - int64(packedBytes))
	t.Logf("the Codecs holds %d bytes more than after small blocks", grew)
	if grew > bound {
		t.Fatalf("the Codecs holds %d bytes more after 24 MiB blocks than after small ones, bound %d", grew, bound)
	}
}

// liveHeap returns the live heap once garbage and sync.Pool contents
// (which survive one collection in the pools' victim cache) are freed.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
