//go:build !chronik_bug_join_timer_ignored

package bugs

// JoinTimerIgnored switches on a deliberate bug; see the package comment.
const JoinTimerIgnored = false
