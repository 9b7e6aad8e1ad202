package record

import (
	"bytes"
	"runtime"
	"testing"
	"time"
)

// TestCodecsStartNoGoroutine pins what compress.go promises and core's
// determinism needs: compressing and decompressing with every codec runs
// on the calling goroutine and leaves none behind (zstd at concurrency 1,
// lz4 at its default of 1). A library upgrade that starts a worker, even
// one that later exits, shows as a higher goroutine count right after the
// calls, or as a goroutine still alive once they settled.
func TestCodecsStartNoGoroutine(t *testing.T) {
	src := bytes.Repeat([]byte("chronik record payload "), 2000)
	codecs := []Codec{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}
	roundTrip := func() {
		for _, c := range codecs {
			for _, xerial := range []bool{false, true} {
				packed, err := Compress(c, src, xerial)
				if err != nil {
					t.Fatalf("compress %v: %v", c, err)
				}
				out, err := Decompress(c, packed, len(src))
				if err != nil || !bytes.Equal(out, src) {
					t.Fatalf("decompress %v: %v (equal %v)", c, err, bytes.Equal(out, src))
				}
			}
		}
	}
	roundTrip() // package-level initialisation, if any, happens once here
	settle := func() int {
		for i := 0; i < 50; i++ {
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		return runtime.NumGoroutine()
	}
	before := settle()
	peak := 0
	for i := 0; i < 20; i++ {
		roundTrip()
		peak = max(peak, runtime.NumGoroutine())
	}
	if peak > before {
		t.Fatalf("%d goroutines right after the codec calls, %d before: a codec started one", peak, before)
	}
	if after := settle(); after != before {
		t.Fatalf("%d goroutines after the codec calls settled, %d before", after, before)
	}
}
