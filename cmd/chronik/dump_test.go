package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// TestDumpTransactionalOffsets: in __consumer_offsets, a TxnOffsetCommit's
// records show their producer under transaction (and still decode as
// offset commits), and the transaction's marker shows as control_marker,
// not as a group record.
func TestDumpTransactionalOffsets(t *testing.T) {
	dir := t.TempDir()
	pdir := filepath.Join(dir, "__consumer_offsets-0")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 1, "g", "t", 0
	v := kmsg.NewOffsetCommitValue()
	v.Version, v.Offset, v.LeaderEpoch = 3, 42, -1
	opts := record.DefaultBatchOptions()
	opts.Transactional, opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = true, 7, 2, 0
	txn := record.MustBuild(opts, []record.Record{{Timestamp: 1, Key: k.AppendTo(nil), Value: v.AppendTo(nil)}})
	marker := record.BuildEndTxnMarker(7, 2, record.EndTxnMarker{Commit: true, CoordinatorEpoch: 5}, 2)
	record.SetBaseOffset(marker, 1)
	seg := append(append([]byte(nil), txn...), marker...)
	if err := os.WriteFile(filepath.Join(pdir, fmt.Sprintf("%020d.log", 0)), seg, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := runDump(&out, &errOut, &dumpOptions{dataDir: dir, topic: "__consumer_offsets"}); err != nil {
		t.Fatalf("dump: %v (%s)", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), out.String())
	}
	var first, second struct {
		Transaction *dumpTxn    `json:"transaction"`
		Marker      *dumpMarker `json:"control_marker"`
		Group       *struct {
			Kind string `json:"kind"`
		} `json:"group_record"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first.Transaction == nil || *first.Transaction != (dumpTxn{ProducerID: 7, ProducerEpoch: 2}) || first.Group == nil || first.Group.Kind != "offset" || first.Marker != nil {
		t.Fatalf("transactional offset line: %s", lines[0])
	}
	want := dumpMarker{Type: "commit", ProducerID: 7, ProducerEpoch: 2, CoordinatorEpoch: 5}
	if second.Marker == nil || *second.Marker != want || second.Group != nil || second.Transaction != nil {
		t.Fatalf("marker line: %s", lines[1])
	}
}
