//go:build chronik_bug_serve_past_hw

package bugs

// ServePastHighWatermark switches on a deliberate bug; see the package comment.
const ServePastHighWatermark = true
