package raftquorum

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// fsm adapts a StateMachine to raft.FSM. Raft calls Apply, Snapshot and
// Restore from one goroutine, so it adds no locking of its own.
type fsm struct {
	sm StateMachine
}

// Apply hands a committed command entry to the state machine. Raft gives a
// plain FSM only command entries, but the type is checked anyway: raft's
// own entries carry no client data.
func (f fsm) Apply(l *raft.Log) any {
	if l.Type == raft.LogCommand {
		f.sm.Apply(l.Index, l.Data)
	}
	return nil
}

// Snapshot takes the state machine's bytes now, on the apply goroutine;
// writing them out happens later in Persist, concurrently with new Applies,
// which is why StateMachine.Snapshot must return bytes Apply won't touch.
func (f fsm) Snapshot() (raft.FSMSnapshot, error) {
	data, err := f.sm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("raftquorum: snapshot state machine: %w", err)
	}
	return snapshot(data), nil
}

// Restore reads a whole snapshot and hands it to the state machine.
func (f fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("raftquorum: read snapshot: %w", err)
	}
	if err := f.sm.Restore(data); err != nil {
		return fmt.Errorf("raftquorum: restore state machine from %d bytes: %w", len(data), err)
	}
	return nil
}

// snapshot is a taken snapshot waiting to be persisted.
type snapshot []byte

// Persist writes the bytes to the sink and closes it, or cancels it on
// failure so that the store discards the partial snapshot.
func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftquorum: write snapshot %s: %w", sink.ID(), err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raftquorum: close snapshot %s: %w", sink.ID(), err)
	}
	return nil
}

// Release implements raft.FSMSnapshot; the bytes need no cleanup.
func (snapshot) Release() {}
