//go:build chronik_bug_truncate_to_hw

package bugs

// TruncateToHighWatermark switches on a deliberate bug; see the package comment.
const TruncateToHighWatermark = true
