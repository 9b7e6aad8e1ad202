//go:build chronik_bug_log_start_not_persisted

package bugs

// LogStartNotPersisted switches on a deliberate bug; see the package comment.
const LogStartNotPersisted = true
