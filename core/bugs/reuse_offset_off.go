//go:build !chronik_bug_reuse_offset

package bugs

// ReuseOffsetAfterCrash switches on a deliberate bug; see the package comment.
const ReuseOffsetAfterCrash = false
