//go:build !chronik_bug_offset_fetch_skips_ahead

package bugs

// OffsetFetchSkipsAhead switches on a deliberate bug; see the package comment.
const OffsetFetchSkipsAhead = false
