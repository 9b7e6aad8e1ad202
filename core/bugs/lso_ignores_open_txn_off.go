//go:build !chronik_bug_lso_ignores_open_txn

package bugs

// LSOIgnoresOpenTxn switches on a deliberate bug; see the package comment.
const LSOIgnoresOpenTxn = false
