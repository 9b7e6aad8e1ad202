//go:build !chronik_bug_cleaner_drops_latest

package bugs

// CleanerDropsLatest switches on a deliberate bug; see the package comment.
const CleanerDropsLatest = false
