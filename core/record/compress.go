package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
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

// Decompress inflates the records block of a batch compressed with codec.
// maxBytes bounds the output (a small batch can inflate to gigabytes);
// exceeding it yields ErrTooLarge. CodecNone returns src itself.
func Decompress(codec Codec, src []byte, maxBytes int) ([]byte, error) {
	switch codec {
	case CodecNone:
		if len(src) > maxBytes {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), maxBytes)
		}
		return src, nil
	case CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, corrupt(ErrInvalidRecord, "gzip header: %v", err)
		}
		return readLimited(r, maxBytes, "gzip")
	case CodecSnappy:
		return decompressSnappy(src, maxBytes)
	case CodecLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), maxBytes, "lz4")
	case CodecZstd:
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(max(maxBytes, 1))))
		if err != nil {
			return nil, fmt.Errorf("record: zstd decoder: %w", err)
		}
		defer d.Close()
		out, err := d.DecodeAll(src, nil)
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
				return nil, fmt.Errorf("%w: zstd: limit %d", ErrTooLarge, maxBytes)
			}
			return nil, corrupt(ErrInvalidRecord, "zstd: %v", err)
		}
		if len(out) > maxBytes {
			return nil, fmt.Errorf("%w: zstd: %d bytes, limit %d", ErrTooLarge, len(out), maxBytes)
		}
		return out, nil
	}
	return nil, corrupt(ErrUnknownCodec, "codec %d", codec)
}

// readLimited drains r, failing once more than maxBytes come out.
func readLimited(r io.Reader, maxBytes int, name string) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(maxBytes)+1))
	if err != nil {
		return nil, corrupt(ErrInvalidRecord, "%s: %v", name, err)
	}
	if len(out) > maxBytes {
		return nil, fmt.Errorf("%w: %s: limit %d", ErrTooLarge, name, maxBytes)
	}
	return out, nil
}

// decompressSnappy handles the three snappy layouts: xerial framing, the
// snappy stream format, and a raw block.
func decompressSnappy(src []byte, maxBytes int) ([]byte, error) {
	switch {
	case bytes.HasPrefix(src, xerialMagic):
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
			chunk, err := snappyBlock(rest[:n], maxBytes-len(out))
			if err != nil {
				return nil, fmt.Errorf("snappy-xerial chunk: %w", err)
			}
			out = append(out, chunk...)
			rest = rest[n:]
		}
		return out, nil
	case bytes.HasPrefix(src, snappyStreamMagic):
		return readLimited(snappy.NewReader(bytes.NewReader(src)), maxBytes, "snappy-stream")
	default:
		return snappyBlock(src, maxBytes)
	}
}

// snappyBlock decodes one raw snappy block after checking its declared
// length against the budget, so that no oversized buffer is allocated.
func snappyBlock(src []byte, maxBytes int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, corrupt(ErrInvalidRecord, "snappy: %v", err)
	}
	if n > maxBytes {
		return nil, fmt.Errorf("%w: snappy: %d bytes, limit %d", ErrTooLarge, n, maxBytes)
	}
	out, err := snappy.Decode(nil, src)
	if err != nil {
		return nil, corrupt(ErrInvalidRecord, "snappy: %v", err)
	}
	return out, nil
}

// Compress deflates a records block with codec, the way the common
// clients do: gzip and zstd streams, an lz4 frame, and for snappy a raw
// block (librdkafka, franz-go) or, when xerial is true, the Java client's
// xerial framing.
func Compress(codec Codec, src []byte, xerial bool) ([]byte, error) {
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("record: gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("record: gzip: %w", err)
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		if !xerial {
			return snappy.Encode(nil, src), nil
		}
		out := append([]byte(nil), xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1) // version
		out = binary.BigEndian.AppendUint32(out, 1) // minimum compatible version
		// xerial chunks hold at most 32 KiB of input each; use smaller
		// chunks so that tests exercise the multi-chunk path.
		const chunk = 8 << 10
		for i := 0; i < len(src); i += chunk {
			block := snappy.Encode(nil, src[i:min(i+chunk, len(src))])
			out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
			out = append(out, block...)
		}
		return out, nil
	case CodecLZ4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("record: lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("record: lz4: %w", err)
		}
		return buf.Bytes(), nil
	case CodecZstd:
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("record: zstd encoder: %w", err)
		}
		out := e.EncodeAll(src, nil)
		if err := e.Close(); err != nil {
			return nil, fmt.Errorf("record: zstd encoder: %w", err)
		}
		return out, nil
	}
	return nil, corrupt(ErrUnknownCodec, "codec %d", codec)
}
