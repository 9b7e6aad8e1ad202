package partlog

import (
	"fmt"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
)

// benchBatch builds a batch of n records with 1 KiB values.
func benchBatch(n int) []byte {
	return record.SimpleBatch(n, 1024, 1_700_000_000_000, 7)
}

func benchConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 20
	cfg.RetentionBytes = 256 << 20 // bounds the benchmark's memory
	return cfg
}

// BenchmarkAppend measures Append on memdisk with a group commit every 16
// batches and retention every 1024, so the whole write path is included.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			l, err := Open(memdisk.New(), "bench-0", benchConfig(), 0)
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(n)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := l.Append(batch, 0, 0); err != nil {
					b.Fatal(err)
				}
				i++
				if i%16 == 0 {
					if job, ok := l.StartSync(); ok {
						l.FinishSync(job, job.Run())
					}
				}
				if i%1024 == 0 {
					l.SetHighWatermark(l.LogEndOffset())
					if _, err := l.ApplyRetention(0); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkRead measures a consumer reading a 64 MiB log front to back
// (wrapping around) with the given fetch size, CRC checks included.
func BenchmarkRead(b *testing.B) {
	for _, tc := range []struct {
		records  int
		maxBytes int
	}{{1, 1 << 20}, {16, 1 << 20}, {16, 16 << 10}} {
		b.Run(fmt.Sprintf("records=%d/maxBytes=%d", tc.records, tc.maxBytes), func(b *testing.B) {
			cfg := benchConfig()
			cfg.SegmentBytes = 16 << 20
			l, err := Open(memdisk.New(), "bench-0", cfg, 0)
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(tc.records)
			for l.SizeBytes() < 64<<20 {
				if _, err := l.Append(batch, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
			leo := l.LogEndOffset()
			b.ReportAllocs()
			b.ResetTimer()
			var total int64
			off := int64(0)
			for b.Loop() {
				res, err := l.Read(off, tc.maxBytes, leo)
				if err != nil {
					b.Fatal(err)
				}
				total += int64(len(res.Records))
				off += int64(len(res.Records)/len(batch)) * int64(tc.records)
				if off >= leo {
					off = 0
				}
			}
			b.SetBytes(total / int64(max(b.N, 1)))
		})
	}
}

// BenchmarkReopen measures the recovery of a log of 40 small segments
// (8 KiB, small batches, as the simulator's logs often are), most of them
// below the checkpointed recovery point: what a broker pays per partition
// at a restart.
func BenchmarkReopen(b *testing.B) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8192
	cfg.IndexIntervalBytes = 1024
	d := memdisk.New()
	l, err := Open(d, "bench-0", cfg, 0)
	if err != nil {
		b.Fatal(err)
	}
	batch := record.SimpleBatch(2, 100, 1_700_000_000_000, 7)
	for l.Segments() < 40 {
		if _, err := l.Append(batch, 0, 0); err != nil {
			b.Fatal(err)
		}
		if l.LogEndOffset()%64 == 0 {
			if job, ok := l.StartSync(); ok {
				l.FinishSync(job, job.Run())
			}
			l.SetHighWatermark(l.DurableEndOffset())
			if err := l.Checkpoint(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if job, ok := l.StartSync(); ok {
		l.FinishSync(job, job.Run())
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l, err := Reopen(d, "bench-0", cfg, 0, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
