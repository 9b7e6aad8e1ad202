//go:build !chronik_bug_ack_before_sync

package bugs

// AckBeforeSync switches on a deliberate bug; see the package comment.
const AckBeforeSync = false
