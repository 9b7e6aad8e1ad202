//go:build chronik_bug_hw_ignores_followers

package bugs

// HighWatermarkIgnoresFollowers switches on a deliberate bug; see the package comment.
const HighWatermarkIgnoresFollowers = true
