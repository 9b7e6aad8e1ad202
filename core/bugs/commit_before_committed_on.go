//go:build chronik_bug_commit_before_committed

package bugs

// CommitBeforeCommitted switches on a deliberate bug; see the package comment.
const CommitBeforeCommitted = true
