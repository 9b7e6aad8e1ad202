package sim

import "testing"

// BenchmarkRun measures whole runs (simulation and checks) of the first
// seeds of the fixed sweep; b.ReportMetric gives simulated seconds per
// wall second.
func BenchmarkRun(b *testing.B) {
	var sim float64
	for i := 0; i < b.N; i++ {
		res := Run(uint64(i%24+1), Options{})
		sim += res.SimTime.Seconds()
	}
	b.ReportMetric(sim/b.Elapsed().Seconds(), "sim-s/s")
}
