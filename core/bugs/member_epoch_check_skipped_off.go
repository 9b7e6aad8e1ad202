//go:build !chronik_bug_member_epoch_check_skipped

package bugs

// MemberEpochCheckSkipped switches on a deliberate bug; see the package comment.
const MemberEpochCheckSkipped = false
