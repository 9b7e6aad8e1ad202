//go:build !chronik_bug_cleaner_ignores_lag

package bugs

// CleanerIgnoresLag switches on a deliberate bug; see the package comment.
const CleanerIgnoresLag = false
