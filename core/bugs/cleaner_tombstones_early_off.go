//go:build !chronik_bug_cleaner_tombstones_early

package bugs

// CleanerTombstonesEarly switches on a deliberate bug; see the package comment.
const CleanerTombstonesEarly = false
