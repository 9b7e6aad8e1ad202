//go:build chronik_bug_image_answered_early

package bugs

// ImageAnsweredEarly switches on a deliberate bug; see the package comment.
const ImageAnsweredEarly = true
