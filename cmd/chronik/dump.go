package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/chronik-streaming/chronik/core/group"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
	"github.com/chronik-streaming/chronik/core/txn"
)

// dumpOptions are the flags of `chronik dump`.
type dumpOptions struct {
	dataDir   string
	topic     string
	partition int32
	from      int64
}

func newDumpCommand() *cobra.Command {
	o := &dumpOptions{}
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Print a partition's records as JSON lines",
		Long: "Print every record of one partition, one JSON object per line:\n" +
			`  {"offset":0,"timestamp":1700000000000,"key":"k","value":"v","headers":[]}` + "\n" +
			"key and value are null when absent; bytes that are not valid UTF-8 are printed as\n" +
			"base64 in key_base64/value_base64 instead. The files are only read, never written,\n" +
			"so dump works on a stopped or a running broker; a batch being written at that moment\n" +
			"(or a torn tail after a crash) ends the dump with a note on stderr. For __consumer_offsets\n" +
			"each line also carries group_record: the record decoded as Kafka's group and offset types,\n" +
			"and KIP-848 consumer-group records under consumer_group; for __transaction_state,\n" +
			"txn_record: the record decoded as Kafka's transaction log types.\n" +
			"A record of a transactional batch (a transactional producer's, or a TxnOffsetCommit's\n" +
			"offsets in __consumer_offsets) carries transaction: its producer id and epoch; an\n" +
			"end-transaction marker (a control batch) carries control_marker: commit or abort, the\n" +
			"producer id and epoch, the coordinator epoch.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDump(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "./chronik-data", "broker data directory")
	f.StringVar(&o.topic, "topic", "", "topic name (required)")
	f.Int32Var(&o.partition, "partition", 0, "partition number")
	f.Int64Var(&o.from, "from", 0, "first offset to print")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

// dumpRecord is the JSON shape of one record.
type dumpRecord struct {
	Offset      int64        `json:"offset"`
	Timestamp   int64        `json:"timestamp"`
	Key         *string      `json:"key"`
	Value       *string      `json:"value"`
	KeyBase64   []byte       `json:"key_base64,omitempty"`
	ValueBase64 []byte       `json:"value_base64,omitempty"`
	Headers     []dumpHeader `json:"headers"`
	// Group is the record decoded as Kafka's consumer-group types, for
	// __consumer_offsets (its key and value are binary).
	Group *group.DecodedRecord `json:"group_record,omitempty"`
	// GroupError says why a __consumer_offsets record did not decode.
	GroupError string `json:"group_record_error,omitempty"`
	// Txn is the record decoded as Kafka's transaction log types, for
	// __transaction_state.
	Txn *dumpTxnRecord `json:"txn_record,omitempty"`
	// TxnError says why a __transaction_state record did not decode.
	TxnError string `json:"txn_record_error,omitempty"`
	// Transaction names the producer of a record in a transactional
	// batch: its effect waits for that producer's marker.
	Transaction *dumpTxn `json:"transaction,omitempty"`
	// Marker is an end-transaction marker's content (a control batch).
	Marker *dumpMarker `json:"control_marker,omitempty"`
	// MarkerError says why a control record did not decode as a marker.
	MarkerError string `json:"control_marker_error,omitempty"`
}

// dumpTxnRecord is a __transaction_state record as dump shows it: the
// decoded record, its state by Kafka's name.
type dumpTxnRecord struct {
	Kind            string        `json:"kind"`
	TransactionalID string        `json:"transactional_id,omitempty"`
	Value           *dumpTxnValue `json:"value,omitempty"`
}

// dumpTxnValue is txn.Metadata with the state named (Ongoing,
// PrepareCommit, ...) instead of numbered.
type dumpTxnValue struct {
	txn.Metadata
	State string
}

// toDumpTxn converts a decoded __transaction_state record.
func toDumpTxn(r txn.DecodedRecord) *dumpTxnRecord {
	d := &dumpTxnRecord{Kind: r.Kind, TransactionalID: r.TransactionalID}
	if r.Value != nil {
		d.Value = &dumpTxnValue{Metadata: *r.Value, State: r.Value.State.String()}
	}
	return d
}

// dumpTxn is the transaction a record belongs to.
type dumpTxn struct {
	ProducerID    int64 `json:"producer_id"`
	ProducerEpoch int16 `json:"producer_epoch"`
}

// dumpMarker is an end-transaction marker.
type dumpMarker struct {
	Type             string `json:"type"` // "commit" or "abort"
	ProducerID       int64  `json:"producer_id"`
	ProducerEpoch    int16  `json:"producer_epoch"`
	CoordinatorEpoch int32  `json:"coordinator_epoch"`
}

type dumpHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

// maxDumpRecordsBytes bounds the decompressed size of one batch.
const maxDumpRecordsBytes = 256 << 20

func runDump(stdout, stderr io.Writer, o *dumpOptions) error {
	dir := filepath.Join(o.dataDir, fmt.Sprintf("%s-%d", o.topic, o.partition))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dump: read partition directory: %w", err)
	}
	var segments []int64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		base, err := strconv.ParseInt(strings.TrimSuffix(name, ".log"), 10, 64)
		if err != nil {
			continue
		}
		segments = append(segments, base)
	}
	sort.Slice(segments, func(i, j int) bool { return segments[i] < segments[j] })
	from := max(o.from, readLogStartOffset(dir))

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var codecs record.Codecs // decoders kept from batch to batch
	for i, base := range segments {
		if i+1 < len(segments) && segments[i+1] <= from {
			continue // wholly below the first offset wanted
		}
		path := filepath.Join(dir, fmt.Sprintf("%020d.log", base))
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		for pos := 0; pos < len(data); {
			batch, _, err := record.Next(data[pos:])
			if err == nil {
				_, err = record.Check(batch)
			}
			if err != nil {
				fmt.Fprintf(stderr, "dump: stopping at %s byte %d: %v (a batch being written, or a torn tail)\n", path, pos, err)
				return nil
			}
			pos += len(batch)
			it, err := codecs.NewIterator(batch, maxDumpRecordsBytes)
			if err != nil {
				return fmt.Errorf("dump: %s byte %d: %w", path, pos, err)
			}
			h := it.Header()
			for it.Next() {
				r := it.Record()
				if r.Offset < from {
					continue
				}
				d := toDumpRecord(r)
				switch {
				case h.Control():
					if m, err := record.ParseEndTxnMarker(batch); err != nil {
						d.MarkerError = err.Error()
					} else {
						typ := "abort"
						if m.Commit {
							typ = "commit"
						}
						d.Marker = &dumpMarker{Type: typ, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, CoordinatorEpoch: m.CoordinatorEpoch}
					}
				case h.Transactional():
					d.Transaction = &dumpTxn{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch}
				}
				if o.topic == "__transaction_state" && !h.Control() {
					if x, err := txn.DecodeRecord(r.Key, r.Value); err != nil {
						d.TxnError = err.Error()
					} else {
						d.Txn = toDumpTxn(x)
					}
				}
				if o.topic == "__consumer_offsets" && !h.Control() {
					if g, err := group.DecodeRecord(r.Key, r.Value); err != nil {
						d.GroupError = err.Error()
					} else {
						d.Group = &g
					}
				}
				if err := enc.Encode(d); err != nil {
					return fmt.Errorf("dump: write: %w", err)
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("dump: %s: decode records: %w", path, err)
			}
		}
	}
	return nil
}

func toDumpRecord(r record.Record) dumpRecord {
	d := dumpRecord{Offset: r.Offset, Timestamp: r.Timestamp, Headers: []dumpHeader{}}
	d.Key, d.KeyBase64 = textOrBytes(r.Key)
	d.Value, d.ValueBase64 = textOrBytes(r.Value)
	for _, h := range r.Headers {
		dh := dumpHeader{Key: h.Key}
		if h.Value != nil {
			v := string(h.Value)
			dh.Value = &v
		}
		d.Headers = append(d.Headers, dh)
	}
	return d
}

// textOrBytes renders b as a JSON string when it is valid UTF-8, else as
// base64 in the companion field (the string field then stays null).
func textOrBytes(b []byte) (*string, []byte) {
	if b == nil {
		return nil, nil
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

// readLogStartOffset reads the log start offset from the partition's
// checkpoint so that records removed by DeleteRecords or retention but
// still in the first segment are not printed. It returns 0 when there is
// no readable checkpoint.
func readLogStartOffset(dir string) int64 {
	var files [2][]byte
	for i, name := range partlog.CheckpointFileNames {
		data, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case err == nil:
			if data == nil {
				data = []byte{} // present, even when empty
			}
			files[i] = data
		case !errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(os.Stderr, "dump: reading checkpoint: %v\n", err)
			return 0
		}
	}
	start, _, err := partlog.LogStartFromCheckpoints(files)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dump: ignoring checkpoint: %v\n", err)
		return 0
	}
	return start
}
