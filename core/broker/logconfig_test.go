package broker

import (
	"testing"

	"github.com/chronik-streaming/chronik/core/partlog"
)

// TestLogConfigForOverrides: logConfigFor starts from the broker's log
// defaults and applies exactly the overrides that name a def with an
// apply, whatever else the map holds.
func TestLogConfigForOverrides(t *testing.T) {
	c := DefaultConfig()
	cases := []struct {
		overrides map[string]string
		want      func(*partlog.Config)
	}{
		{nil, func(*partlog.Config) {}},
		{map[string]string{"cleanup.policy": "delete", "min.insync.replicas": "2", "no.such.config": "7"},
			func(*partlog.Config) {}},
		{map[string]string{"segment.bytes": "4096"}, func(lc *partlog.Config) { lc.SegmentBytes = 4096 }},
		{map[string]string{"unclean.leader.election.enable": "true", "retention.ms": "-1", "segment.ms": "60000",
			"retention.bytes": "100", "index.interval.bytes": "10", "max.message.bytes": "2000", "zzz": "1"},
			func(lc *partlog.Config) {
				lc.RetentionMs, lc.SegmentMs, lc.RetentionBytes = -1, 60000, 100
				lc.IndexIntervalBytes, lc.MaxMessageBytes = 10, 2000
			}},
	}
	for i, tc := range cases {
		want := c.LogDefaults
		tc.want(&want)
		if got := c.logConfigFor(tc.overrides); got != want {
			t.Errorf("case %d: %+v, want %+v", i, got, want)
		}
	}
}
