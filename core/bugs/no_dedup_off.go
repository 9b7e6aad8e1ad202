//go:build !chronik_bug_no_dedup

package bugs

// NoIdempotentDedup switches on a deliberate bug; see the package comment.
const NoIdempotentDedup = false
