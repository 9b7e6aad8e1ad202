//go:build !chronik_bug_sync_covers_later

package bugs

// SyncCoversLaterAppends switches on a deliberate bug; see the package comment.
const SyncCoversLaterAppends = false
