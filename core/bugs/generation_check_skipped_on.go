//go:build chronik_bug_generation_check_skipped

package bugs

// GenerationCheckSkipped switches on a deliberate bug; see the package comment.
const GenerationCheckSkipped = true
