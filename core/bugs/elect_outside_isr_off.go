//go:build !chronik_bug_elect_outside_isr

package bugs

// ElectOutsideISR switches on a deliberate bug; see the package comment.
const ElectOutsideISR = false
