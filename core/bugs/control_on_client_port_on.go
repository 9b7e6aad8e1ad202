//go:build chronik_bug_control_on_client_port

package bugs

// ControlOnClientPort switches on a deliberate bug; see the package comment.
const ControlOnClientPort = true
