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
// lz4 at its default of 1), both with state built per call and with the
// state a Codecs keeps and resets from call to call. A library upgrade
// that starts a worker, even one that later exits, shows as a higher
// goroutine count right after the calls, or as a goroutine still alive
// once they settled.
func TestCodecsStartNoGoroutine(t *testing.T) {
	src := bytes.Repeat([]byte("chronik record payload "), 2000)
	codecs := []Codec{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}
	// reused is the kept state a broker holds; nil builds fresh state per
	// call, as the package-level functions do.
	var reused Codecs
	roundTrip := func() {
		for _, state := range []*Codecs{nil, &reused} {
			for _, c := range codecs {
				for _, xerial := range []bool{false, true} {
					packed, err := state.Compress(c, src, xerial)
					if err != nil {
						t.Fatalf("compress %v: %v", c, err)
					}
					out, err := state.Decompress(c, packed, len(src))
					if err != nil || !bytes.Equal(out, src) {
						t.Fatalf("decompress %v: %v (equal %v)", c, err, bytes.Equal(out, src))
					}
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
