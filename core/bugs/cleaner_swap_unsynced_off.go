//go:build !chronik_bug_cleaner_swap_unsynced

package bugs

// CleanerSwapUnsynced switches on a deliberate bug; see the package comment.
const CleanerSwapUnsynced = false
