//go:build chronik_bug_segment_name_unsynced

package bugs

// SegmentNameUnsynced switches on a deliberate bug; see the package comment.
const SegmentNameUnsynced = true
