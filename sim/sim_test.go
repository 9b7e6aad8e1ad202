package sim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	flagSeed     = flag.Uint64("seed", 0, "run this seed (with -seeds, the first of a range)")
	flagSeeds    = flag.Int("seeds", 0, "run this many seeds from -seed (default start: random, printed)")
	flagStop     = flag.Bool("stop-on-fail", false, "stop a -seeds sweep at the first failing seed")
	flagEventLog = flag.String("event-log", "", "write the event log of a single -seed run to this file")
	flagPhase    = flag.Duration("fault-phase", 0, "override the length of the faulty phase (virtual time)")
)

// sweepSeeds is the fixed set plain `go test ./sim` runs.
const sweepSeeds = 24

// outDir is where failure artifacts go (porcupine HTML, event logs).
func outDir() string { return filepath.Join(os.TempDir(), "chronik-sim") }

func seedWasSet() bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			set = true
		}
	})
	return set
}

func runOptions() Options {
	return Options{
		VisualizationDir: outDir(),
		CheckTimeout:     20 * time.Second,
		FaultPhase:       Time(*flagPhase / time.Microsecond),
	}
}

// runOne runs seed, prints its line and, on failure, the findings, the
// reproduce command and where to look.
func runOne(t testing.TB, seed uint64) *Result {
	opts := runOptions()
	var logFile *os.File
	if *flagEventLog != "" {
		f, err := os.Create(*flagEventLog)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		logFile = f
		opts.EventLog = f
	}
	res := Run(seed, opts)

	fmt.Println(res.Line())
	if !res.OK() {
		report(t, res, logFile == nil)
	}
	return res
}

// report prints a failed run: findings, the reproduce command, porcupine's
// visualization and an event log written by replaying the seed.
func report(t testing.TB, res *Result, writeLog bool) {
	var b []byte
	b = fmt.Appendf(b, "seed %d FAILED (%d ops, %d events, %s virtual, %s):\n", res.Seed, res.Ops, res.Events, res.SimTime, res.WallTime.Round(time.Millisecond))
	for _, f := range res.Failures {
		b = fmt.Appendf(b, "  %s\n", f)
	}
	for _, n := range res.Notes {
		b = fmt.Appendf(b, "  note: %s\n", n)
	}
	b = fmt.Appendf(b, "  faults injected: %s\n", res.Stats)
	if res.VisualizationPath != "" {
		b = fmt.Appendf(b, "  porcupine visualization: %s\n", res.VisualizationPath)
	}
	if writeLog {
		if path, err := writeEventLog(res.Seed); err == nil {
			b = fmt.Appendf(b, "  event log (replayed): %s\n", path)
		}
	}
	b = fmt.Appendf(b, "  reproduce: go test ./sim -run Sim -seed=%d\n", res.Seed)
	t.Error(string(b))
}

// writeEventLog replays seed with the event log on. The replay is exact:
// its trace must match the failed run's.
func writeEventLog(seed uint64) (string, error) {
	if err := os.MkdirAll(outDir(), 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(outDir(), fmt.Sprintf("chronik-sim-seed-%d.log", seed))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	opts := runOptions()
	opts.EventLog = f
	opts.VisualizationDir = ""
	Run(seed, opts)
	return path, nil
}

// TestSimSweep runs one seed (-seed), a range (-seeds), or the fixed sweep.
func TestSimSweep(t *testing.T) {
	switch {
	case *flagSeeds > 0:
		start := *flagSeed
		if !seedWasSet() {
			start = uint64(time.Now().UnixNano()) % 1_000_000_000
			fmt.Printf("random start: -seed=%d\n", start)
		}
		sweep(t, start, *flagSeeds, *flagStop)
	case seedWasSet():
		runOne(t, *flagSeed)
	default:
		n := sweepSeeds
		if testing.Short() {
			n = 6
		}
		sweep(t, 1, n, false)
	}
}

// sweep runs count seeds from start on every core, printing each line;
// with stop, it stops at the first failing seed (seeds below it still
// finish, so "caught after N seeds" is exact).
func sweep(t *testing.T, start uint64, count int, stop bool) {
	began := time.Now()
	workers := runtime.GOMAXPROCS(0)
	results := make([]*Result, count)
	var mu sync.Mutex
	next, firstFail := 0, count
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				if i >= count || (stop && i > firstFail) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				res := Run(start+uint64(i), runOptions())
				mu.Lock()
				results[i] = res
				fmt.Println(res.Line())
				if !res.OK() && i < firstFail {
					firstFail = i
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var simTime Time
	ran, failed := 0, 0
	for i, res := range results {
		if res == nil {
			continue
		}
		ran++
		simTime += res.SimTime
		if !res.OK() {
			failed++
			if !stop || i == firstFail {
				report(t, res, true)
			}
		}
	}
	wall := time.Since(began)
	fmt.Printf("sweep: %d seeds from %d, %d failed; %.1f seeds/min; %.0f sim-s per wall-s (%d workers)\n",
		ran, start, failed, float64(ran)/wall.Minutes(), simTime.Seconds()/wall.Seconds(), workers)
	if stop && firstFail < count {
		fmt.Printf("caught: first failing seed %d after %d seeds\n", start+uint64(firstFail), firstFail+1)
	}
}

// Seconds converts t to float seconds.
func (t Time) Seconds() float64 { return float64(t) / float64(Second) }
