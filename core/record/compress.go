package record

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/snappy"
)

// The libraries below are pure Go and, in the modes used here, run on the
// calling goroutine: zstd's DecodeAll/EncodeAll with concurrency 1 and
// lz4's Reader/Writer at their default concurrency of 1 never start
// goroutines, which keeps the core deterministic.

// xerialMagic opens a snappy block in the framing of the Java xerial
// library, which the Java Kafka client uses: the 8 magic bytes, then a
// version and a minimum-compatible version (int32 each), then chunks of
// [int32 length][raw snappy block]. librdkafka and franz-go write a raw
// snappy block instead, so both must be read.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderSize is the magic plus the two version fields.
const xerialHeaderSize = 16

// snappyStreamMagic opens the snappy framing format (stream identifier
// chunk). No Kafka client is known to write it, but reading it costs one
// branch and makes the decoder tolerant of odd producers.
var snappyStreamMagic = []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

// decompressXerial decodes the Java client's xerial snappy framing.
func decompressXerial(src []byte, maxBytes int) ([]byte, error) {
	if len(src) < xerialHeaderSize {
		return nil, corrupt(ErrInvalidRecord, "snappy-xerial: %d-byte header", len(src))
	}
	var out []byte
	rest := src[xerialHeaderSize:]
	for len(rest) > 0 {
		if len(rest) < 4 {
			return nil, corrupt(ErrInvalidRecord, "snappy-xerial: truncated chunk length")
		}
		n := int(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if n < 0 || n > len(rest) {
			return nil, corrupt(ErrInvalidRecord, "snappy-xerial: chunk of %d bytes, %d left", n, len(rest))
		}
		var err error
		if out, err = appendSnappyBlock(out, rest[:n], maxBytes-len(out)); err != nil {
			return nil, fmt.Errorf("snappy-xerial chunk: %w", err)
		}
		rest = rest[n:]
	}
	return out, nil
}

// snappyBlock decodes one raw snappy block into a new slice; see
// appendSnappyBlock.
func snappyBlock(src []byte, maxBytes int) ([]byte, error) {
	return appendSnappyBlock(nil, src, maxBytes)
}

// appendSnappyBlock decodes one raw snappy block onto dst after checking
// its declared length against the budget, so that no oversized buffer is
// allocated.
func appendSnappyBlock(dst, src []byte, maxBytes int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, corrupt(ErrInvalidRecord, "snappy: %v", err)
	}
	if n > maxBytes {
		return nil, fmt.Errorf("%w: snappy: %d bytes, limit %d", ErrTooLarge, n, maxBytes)
	}
	dst = slices.Grow(dst, n)
	if _, err := snappy.Decode(dst[len(dst):len(dst)+n], src); err != nil {
		return nil, corrupt(ErrInvalidRecord, "snappy: %v", err)
	}
	return dst[:len(dst)+n], nil
}

// compressXerial frames src in the Java client's xerial snappy framing.
func compressXerial(src []byte) []byte {
	// xerial chunks hold at most 32 KiB of input each; use smaller chunks
	// so that tests exercise the multi-chunk path.
	const chunk = 8 << 10
	out := append([]byte(nil), xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1) // version
	out = binary.BigEndian.AppendUint32(out, 1) // minimum compatible version
	for i := 0; i < len(src); i += chunk {
		block := snappy.Encode(nil, src[i:min(i+chunk, len(src))])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
	}
	return out
}
