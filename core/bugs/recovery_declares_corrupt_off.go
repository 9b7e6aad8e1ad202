//go:build !chronik_bug_recovery_declares_corrupt

package bugs

// RecoveryDeclaresCorrupt switches on a deliberate bug; see the package comment.
const RecoveryDeclaresCorrupt = false
