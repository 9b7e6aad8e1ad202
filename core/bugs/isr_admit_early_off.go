//go:build !chronik_bug_isr_admit_early

package bugs

// ISRAdmitEarly switches on a deliberate bug; see the package comment.
const ISRAdmitEarly = false
