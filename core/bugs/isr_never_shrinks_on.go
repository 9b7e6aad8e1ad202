//go:build chronik_bug_isr_never_shrinks

package bugs

// ISRNeverShrinks switches on a deliberate bug; see the package comment.
const ISRNeverShrinks = true
