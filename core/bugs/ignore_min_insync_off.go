//go:build !chronik_bug_ignore_min_insync

package bugs

// IgnoreMinInsync switches on a deliberate bug; see the package comment.
const IgnoreMinInsync = false
