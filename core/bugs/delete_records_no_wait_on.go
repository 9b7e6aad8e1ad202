//go:build chronik_bug_delete_records_no_wait

package bugs

// DeleteRecordsNoWait switches on a deliberate bug; see the package comment.
const DeleteRecordsNoWait = true
