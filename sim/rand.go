package sim

import (
	"hash/fnv"
	"math"
)

// Rand is the simulator's only source of randomness: splitmix64, seeded
// from the run's seed. Every consumer of randomness gets its own stream
// (Fork), named after what it drives ("net", "disk", "client/3"), so that
// adding a client or a fault kind does not shift the draws of the others.
type Rand struct{ state uint64 }

// newRand returns the stream name of the run seeded with seed.
func newRand(seed uint64, name string) *Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := &Rand{state: seed ^ mix64(h.Sum64())}
	r.Uint64() // decorrelate streams whose seeds differ in few bits
	return r
}

// Fork derives an independent named stream from r's current state without
// consuming r (so forks can be taken in any order).
func (r *Rand) Fork(name string) *Rand { return newRand(r.state, name) }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uint64 returns the next value.
func (r *Rand) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// Intn returns a value in [0, n); n must be > 0.
func (r *Rand) Intn(n int) int { return int(r.Uint64() % uint64(n)) }

// Int63n returns a value in [0, n); n must be > 0.
func (r *Rand) Int63n(n int64) int64 { return int64(r.Uint64() % uint64(n)) }

// Range returns a value in [lo, hi] (inclusive).
func (r *Rand) Range(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int63n(hi-lo+1)
}

// Float64 returns a value in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Chance reports true with probability p.
func (r *Rand) Chance(p float64) bool { return p > 0 && r.Float64() < p }

// Exp returns an exponentially distributed duration with the given mean
// (at least 1 when mean > 0).
func (r *Rand) Exp(mean Time) Time {
	if mean <= 0 {
		return 0
	}
	d := Time(-float64(mean) * math.Log(1-r.Float64()))
	return max(d, 1)
}

// pick returns a random element of s (s must not be empty).
func pick[T any](r *Rand, s []T) T { return s[r.Intn(len(s))] }
