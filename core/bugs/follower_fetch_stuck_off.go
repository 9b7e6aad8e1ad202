//go:build !chronik_bug_follower_fetch_stuck

package bugs

// FollowerFetchStuck switches on a deliberate bug; see the package comment.
const FollowerFetchStuck = false
