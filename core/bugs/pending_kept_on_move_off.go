//go:build !chronik_bug_pending_kept_on_move

package bugs

// PendingKeptOnMove switches on a deliberate bug; see the package comment.
const PendingKeptOnMove = false
