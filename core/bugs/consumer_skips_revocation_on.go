//go:build chronik_bug_consumer_skips_revocation

package bugs

// ConsumerSkipsRevocation switches on a deliberate bug; see the package comment.
const ConsumerSkipsRevocation = true
