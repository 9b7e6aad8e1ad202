//go:build chronik_bug_owner_file_unsynced

package bugs

// OwnerFileUnsynced switches on a deliberate bug; see the package comment.
const OwnerFileUnsynced = true
