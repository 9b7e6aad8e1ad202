//go:build chronik_bug_reopen_keeps_unsynced

package bugs

// ReopenKeepsUnsynced switches on a deliberate bug; see the package comment.
const ReopenKeepsUnsynced = true
