//go:build chronik_bug_fsync_failure_trusted

package bugs

// FsyncFailureTrusted switches on a deliberate bug; see the package comment.
const FsyncFailureTrusted = true
