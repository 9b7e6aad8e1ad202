//go:build chronik_bug_serve_before_catchup

package bugs

// ServeBeforeCatchUp switches on a deliberate bug; see the package comment.
const ServeBeforeCatchUp = true
