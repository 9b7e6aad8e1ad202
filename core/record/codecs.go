package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codecs is the compression state that decompressing and compressing
// reuse from call to call: a zstd decoder and encoder, lz4 and gzip
// readers and writers and a snappy stream reader, each built on first use
// and reset at every later call instead of being built again. Building
// them per call made decoding a gzip or zstd batch of 11 KiB allocate
// 56-66 KB instead of the 11 KB of its records, and building a zstd
// batch 1.7 MB (BenchmarkDecodeBatch, BenchmarkBuildBatch).
//
// It fits core's rules. No call starts a goroutine
// (TestCodecsStartNoGoroutine). No result depends on what earlier calls
// did, errors included, because each call resets the state it uses
// (TestCodecsReuseMatchesFresh). There is no package-level state: the
// owner of one event loop (the broker) holds a Codecs and hands it to
// whatever decompresses, so it needs no lock and is not safe for
// concurrent use. A nil *Codecs is valid and builds fresh state for each
// call. A Codecs must not be copied once used, as its readers point at
// its own source reader.
//
// What a Codecs keeps between calls is bounded whatever the data was:
// 1.6 MB after 24 MiB blocks of every codec (TestCodecsKeepBoundedMemory
// allows 4 MiB). Outputs are new slices owned by the caller, and no
// reference to an input or an output is kept. zstd decodes with
// DecodeAll, which writes the frame straight into the output slice, so
// the decoder keeps only per-block buffers (a zstd block is at most 128
// KiB) however large the frame or its window; the encoder uses a 64 KiB
// window, so its history stays that small. lz4 hands its block buffer (up
// to 4 MiB) back to the library's own pool after every call; gzip keeps
// flate's window and tables, a snappy stream reader its 64 KiB chunks.
type Codecs struct {
	// src is the reader every stream decoder reads a call's input from;
	// it is emptied after the call so that the input is not kept alive.
	src bytes.Reader
	// out collects a stream encoder's output; emptied after the call.
	out sliceWriter

	gzr  *gzip.Reader
	gzw  *gzip.Writer
	lz4r *lz4.Reader
	lz4w *lz4.Writer
	snr  *snappy.Reader
	zdec *zstd.Decoder
	// zdecMax is the WithDecoderMaxMemory zdec was last given (unzstd):
	// DecodeAll fails with ErrDecoderSizeExceeded past it, and a frame
	// whose window exceeds it is refused outright.
	zdecMax uint64
	zenc    *zstd.Encoder
}

// sliceWriter is an io.Writer that appends to b.
type sliceWriter struct{ b []byte }

// Write appends p to w.b.
func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// take returns what was written and forgets it.
func (w *sliceWriter) take() []byte {
	b := w.b
	w.b = nil
	return b
}

// orNew returns c, or state for one call when c is nil.
func (c *Codecs) orNew() *Codecs {
	if c == nil {
		return new(Codecs)
	}
	return c
}

// Decompress inflates the records block of a batch compressed with codec,
// building every decoder afresh; see Codecs.Decompress.
func Decompress(codec Codec, src []byte, maxBytes int) ([]byte, error) {
	return (*Codecs)(nil).Decompress(codec, src, maxBytes)
}

// Compress deflates a records block with codec, building every encoder
// afresh; see Codecs.Compress.
func Compress(codec Codec, src []byte, xerial bool) ([]byte, error) {
	return (*Codecs)(nil).Compress(codec, src, xerial)
}

// Decompress inflates the records block of a batch compressed with codec.
// maxBytes bounds the output (a small batch can inflate to gigabytes);
// exceeding it yields ErrTooLarge. CodecNone returns src itself; any
// other codec returns a new slice.
func (c *Codecs) Decompress(codec Codec, src []byte, maxBytes int) ([]byte, error) {
	switch codec {
	case CodecNone:
		if len(src) > maxBytes {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), maxBytes)
		}
		return src, nil
	case CodecGzip:
		return c.orNew().gunzip(src, maxBytes)
	case CodecSnappy:
		return c.decompressSnappy(src, maxBytes)
	case CodecLZ4:
		return c.orNew().unlz4(src, maxBytes)
	case CodecZstd:
		return c.orNew().unzstd(src, maxBytes)
	}
	return nil, corrupt(ErrUnknownCodec, "codec %d", codec)
}

// gunzip decodes a gzip stream (several members are read as one, as
// every gzip reader does).
func (c *Codecs) gunzip(src []byte, maxBytes int) ([]byte, error) {
	c.src.Reset(src)
	defer c.src.Reset(nil)
	if c.gzr == nil {
		c.gzr = new(gzip.Reader) // Reset builds the flate reader once
	}
	if err := c.gzr.Reset(&c.src); err != nil {
		return nil, corrupt(ErrInvalidRecord, "gzip header: %v", err)
	}
	// The trailer's ISIZE is the (last member's) length mod 2^32: a hint
	// only, trusted no further than deflate's best ratio of 1032:1.
	hint := 0
	if len(src) >= 4 {
		hint = int(min(uint64(binary.LittleEndian.Uint32(src[len(src)-4:])), uint64(len(src))*1032))
	}
	return readLimited(c.gzr, maxBytes, hint, "gzip")
}

// unlz4 decodes an lz4 frame.
func (c *Codecs) unlz4(src []byte, maxBytes int) ([]byte, error) {
	c.src.Reset(src)
	defer c.src.Reset(nil)
	if c.lz4r == nil {
		c.lz4r = lz4.NewReader(&c.src)
	} else {
		c.lz4r.Reset(&c.src)
	}
	// Reset hands the block buffer (up to 4 MiB) back to lz4's pool, which
	// a read that stopped early (an error, the limit) would keep.
	defer c.lz4r.Reset(nil)
	return readLimited(c.lz4r, maxBytes, unsizedRatio*len(src), "lz4")
}

// zstdMinMemory is the least output limit (and so window) a zstd decoder
// gets: 8 MiB, the window of zstd's level 19 on a stream of unknown size,
// which covers what clients write by default. It is what one call may
// allocate beyond a smaller limit of the caller before failing.
const zstdMinMemory = 8 << 20

// unzstd decodes zstd frames with DecodeAll, on the calling goroutine.
func (c *Codecs) unzstd(src []byte, maxBytes int) ([]byte, error) {
	// The library refuses a frame whose window exceeds the decoder's
	// memory limit, although DecodeAll never allocates a window: with
	// the caller's limit alone, a valid batch smaller than its frame's
	// window (a 21-byte batch gets a 1 KiB window; a Java producer's
	// streaming frames declare 2 MiB or more) would fail under a limit
	// that its records fit. So the decoder's limit is at least
	// zstdMinMemory, and the caller's is checked on the output.
	limit := max(uint64(max(maxBytes, 0)), zstdMinMemory)
	switch {
	case c.zdec == nil:
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(limit))
		if err != nil {
			return nil, fmt.Errorf("record: zstd decoder: %w", err)
		}
		c.zdec, c.zdecMax = d, limit
	case c.zdecMax != limit:
		// The limit of the previous call is not this one's: change it
		// in place (ResetWithOptions keeps the decoder's buffers).
		if err := c.zdec.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(limit)); err != nil {
			c.zdec = nil // rebuilt, with the right limit, by the next call
			return nil, fmt.Errorf("record: zstd decoder: %w", err)
		}
		c.zdecMax = limit
	}
	out, err := c.zdec.DecodeAll(src, nil)
	if err != nil {
		// A window above the decoder's limit is refused before decoding:
		// the frame may need more than the limit, a size problem rather
		// than damage.
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, fmt.Errorf("%w: zstd: limit %d: %v", ErrTooLarge, maxBytes, err)
		}
		return nil, corrupt(ErrInvalidRecord, "zstd: %v", err)
	}
	if len(out) > maxBytes {
		return nil, fmt.Errorf("%w: zstd: %d bytes, limit %d", ErrTooLarge, len(out), maxBytes)
	}
	return out, nil
}

// decompressSnappy handles the three snappy layouts: xerial framing, the
// snappy stream format, and a raw block.
func (c *Codecs) decompressSnappy(src []byte, maxBytes int) ([]byte, error) {
	switch {
	case bytes.HasPrefix(src, xerialMagic):
		return decompressXerial(src, maxBytes)
	case bytes.HasPrefix(src, snappyStreamMagic):
		c = c.orNew()
		c.src.Reset(src)
		defer c.src.Reset(nil)
		if c.snr == nil {
			c.snr = snappy.NewReader(&c.src)
		} else {
			c.snr.Reset(&c.src)
		}
		defer c.snr.Reset(nil)
		return readLimited(c.snr, maxBytes, unsizedRatio*len(src), "snappy-stream")
	default:
		return snappyBlock(src, maxBytes)
	}
}

// unsizedRatio is the decoded size readLimited first makes room for, as a
// multiple of the input, when the format does not state it (lz4 frames as
// clients write them, snappy streams): Kafka payloads shrink 2-4 times
// with these codecs, so most batches take one allocation, and a wrong
// guess costs a doubling or some slack.
const unsizedRatio = 4

// readLimited drains r into a new slice, starting with room for hint
// bytes, and fails once more than maxBytes come out.
func readLimited(r io.Reader, maxBytes, hint int, name string) ([]byte, error) {
	// One byte past the limit tells "too large" from "exactly at it".
	limit := max(maxBytes, 0)
	if limit < math.MaxInt {
		limit++
	}
	out := make([]byte, 0, min(max(hint, 512), limit))
	var probe [1]byte
	for len(out) < limit {
		var n int
		var err error
		if len(out) < cap(out) {
			n, err = r.Read(out[len(out):min(cap(out), limit)])
			out = out[:len(out)+n]
		} else {
			// Full: a hint that was exact must not cost a larger copy
			// just to see the end, so probe one byte before growing.
			n, err = r.Read(probe[:])
			if n > 0 {
				out = append(out, probe[0])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, corrupt(ErrInvalidRecord, "%s: %v", name, err)
		}
	}
	if len(out) > maxBytes {
		return nil, fmt.Errorf("%w: %s: limit %d", ErrTooLarge, name, maxBytes)
	}
	return out, nil
}

// Compress deflates a records block with codec, the way the common
// clients do: gzip and zstd streams, an lz4 frame, and for snappy a raw
// block (librdkafka, franz-go) or, when xerial is true, the Java client's
// xerial framing. The encoders' settings are those of a fresh encoder, so
// the bytes are the same whatever c encoded before.
func (c *Codecs) Compress(codec Codec, src []byte, xerial bool) ([]byte, error) {
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		c = c.orNew()
		c.out.b = make([]byte, 0, len(src)/2+64)
		if c.gzw == nil {
			c.gzw = gzip.NewWriter(&c.out)
		} else {
			c.gzw.Reset(&c.out)
		}
		_, err := c.gzw.Write(src)
		if err == nil {
			err = c.gzw.Close()
		}
		if out := c.out.take(); err == nil {
			return out, nil
		}
		return nil, fmt.Errorf("record: gzip: %w", err)
	case CodecSnappy:
		if !xerial {
			return snappy.Encode(nil, src), nil
		}
		return compressXerial(src), nil
	case CodecLZ4:
		c = c.orNew()
		c.out.b = make([]byte, 0, len(src)/2+64)
		if c.lz4w == nil {
			c.lz4w = lz4.NewWriter(&c.out)
		} else {
			c.lz4w.Reset(&c.out)
		}
		_, err := c.lz4w.Write(src)
		if err == nil {
			err = c.lz4w.Close()
		}
		if out := c.out.take(); err == nil {
			return out, nil
		}
		return nil, fmt.Errorf("record: lz4: %w", err)
	case CodecZstd:
		c = c.orNew()
		if c.zenc == nil {
			// A 64 KiB window, as franz-go's producer uses, bounds the
			// history the kept encoder holds (an 8 MiB default window
			// kept 17 MB after one 24 MiB block).
			e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(64<<10))
			if err != nil {
				return nil, fmt.Errorf("record: zstd encoder: %w", err)
			}
			c.zenc = e
		}
		return c.zenc.EncodeAll(src, nil), nil
	}
	return nil, corrupt(ErrUnknownCodec, "codec %d", codec)
}
