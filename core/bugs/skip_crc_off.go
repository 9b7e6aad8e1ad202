//go:build !chronik_bug_skip_crc

package bugs

// SkipCRCCheck switches on a deliberate bug; see the package comment.
const SkipCRCCheck = false
