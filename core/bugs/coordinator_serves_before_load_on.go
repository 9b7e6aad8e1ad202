//go:build chronik_bug_coordinator_serves_before_load

package bugs

// CoordinatorServesBeforeLoad switches on a deliberate bug; see the package comment.
const CoordinatorServesBeforeLoad = true
