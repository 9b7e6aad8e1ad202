package partlog

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// File names inside a partition directory.
const (
	// checkpointFile holds the recovery point, high watermark and log
	// start offset, as written on the event loop (truncation, retention,
	// DeleteRecords, recovery, a clean shutdown); jobCheckpointFile holds
	// the same, as written by a sync job after its fsyncs (the periodic
	// checkpoint). Recovery takes the one with the higher sequence number
	// (readCheckpoints): a job runs off the loop and may finish its write
	// after a later one the loop made, so the order in which the writes
	// land cannot say which is current.
	checkpointFile    = "partition-checkpoint"
	jobCheckpointFile = "partition-checkpoint.job"
	// epochCheckpointFile holds the leader-epoch cache as written on the
	// event loop (truncation, retention, recovery), jobEpochCheckpointFile
	// as written by a sync job before its fsyncs (a new epoch appended);
	// recovery takes the one with the higher sequence, as for the
	// partition checkpoint.
	epochCheckpointFile    = "leader-epoch-checkpoint"
	jobEpochCheckpointFile = "leader-epoch-checkpoint.job"
	// uncertainFile marks a log that recovery cut without knowing its
	// recovery point (OpenBounds.MarkUncertainCut), or whose synced data
	// a caller found damaged (MarkUncertain); its presence is what
	// counts, its text only says why.
	uncertainFile = "recovery-uncertain"
	// tempSuffix marks a temporary file of disk.WriteFileAtomic left by a
	// crash; Open ignores such names.
	tempSuffix = ".tmp"

	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// Both checkpoint files are small text files, readable with cat, ending in
// a CRC-32C line over everything before it: WriteFileAtomic already makes
// them crash-atomic, and the CRC turns silent media corruption into "no
// checkpoint" instead of wrong offsets.
//
//	chronik-partition-checkpoint 1
//	recovery-point 1200
//	high-watermark 1150
//	log-start-offset 0
//	truncation-generation 2
//	sequence 17
//	owner 6c7c5a0e24b94b4c9d0f5e1b2a3c4d5e
//	crc32c 8c1a4f02
//
//	chronik-leader-epoch-checkpoint 1
//	entries 2
//	0 0
//	3 950
//	sequence 4
//	owner 6c7c5a0e24b94b4c9d0f5e1b2a3c4d5e
//	crc32c 1b0e77a3
//
// The sequence and owner lines are optional (older versions wrote
// neither); owner is OpenBounds.Owner, a token without spaces.
const (
	checkpointMagic      = "chronik-partition-checkpoint 1"
	epochCheckpointMagic = "chronik-leader-epoch-checkpoint 1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadCheckpoint marks a checkpoint file that exists but does not parse.
var errBadCheckpoint = errors.New("partlog: malformed checkpoint file")

// partitionCheckpoint is the content of checkpointFile.
type partitionCheckpoint struct {
	recoveryPoint  int64
	highWatermark  int64
	logStartOffset int64
	// truncGen is the truncation generation (syncedend.go): bumped by a
	// truncation below a synced end that a slot may hold. Written only
	// when non-zero, so a log that never needed one keeps the format that
	// older versions read; a checkpoint without the line has generation 0.
	truncGen int64
	// seq orders the writes of both checkpoint files (checkpointFile,
	// jobCheckpointFile): one counter per log, taken when the content is
	// decided, on the loop. Written when non-zero; absent = 0.
	seq uint64
	// owner is the log's OpenBounds.Owner; written when not empty.
	owner string
}

// sealCheckpoint appends the CRC line to a checkpoint body.
func sealCheckpoint(body string) []byte {
	return []byte(fmt.Sprintf("%scrc32c %08x\n", body, crc32.Checksum([]byte(body), castagnoli)))
}

// openCheckpoint verifies the CRC line and the magic line and returns the
// remaining lines.
func openCheckpoint(data []byte, magic string) ([]string, error) {
	if !bytes.HasSuffix(data, []byte("\n")) {
		return nil, fmt.Errorf("%w: no final newline", errBadCheckpoint)
	}
	body := data[:len(data)-1]
	i := bytes.LastIndexByte(body, '\n')
	if i < 0 {
		return nil, fmt.Errorf("%w: no crc line", errBadCheckpoint)
	}
	crcLine := string(body[i+1:])
	body = data[:i+1]
	want, ok := strings.CutPrefix(crcLine, "crc32c ")
	if !ok {
		return nil, fmt.Errorf("%w: bad crc line %q", errBadCheckpoint, crcLine)
	}
	if got := fmt.Sprintf("%08x", crc32.Checksum(body, castagnoli)); got != want {
		return nil, fmt.Errorf("%w: crc %s, computed %s", errBadCheckpoint, want, got)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if lines[0] != magic {
		return nil, fmt.Errorf("%w: first line %q, want %q", errBadCheckpoint, lines[0], magic)
	}
	return lines[1:], nil
}

// field parses "name value" as an int64.
func field(line, name string) (int64, error) {
	v, ok := strings.CutPrefix(line, name+" ")
	if !ok {
		return 0, fmt.Errorf("%w: line %q, want %s", errBadCheckpoint, line, name)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", errBadCheckpoint, name, err)
	}
	return n, nil
}

func encodePartitionCheckpoint(c partitionCheckpoint) []byte {
	body := fmt.Sprintf("%s\nrecovery-point %d\nhigh-watermark %d\nlog-start-offset %d\n",
		checkpointMagic, c.recoveryPoint, c.highWatermark, c.logStartOffset)
	if c.truncGen > 0 {
		body += fmt.Sprintf("truncation-generation %d\n", c.truncGen)
	}
	if c.seq > 0 {
		body += fmt.Sprintf("sequence %d\n", c.seq)
	}
	if c.owner != "" {
		body += "owner " + c.owner + "\n"
	}
	return sealCheckpoint(body)
}

func decodePartitionCheckpoint(data []byte) (partitionCheckpoint, error) {
	lines, err := openCheckpoint(data, checkpointMagic)
	if err != nil {
		return partitionCheckpoint{}, err
	}
	if len(lines) < 3 || len(lines) > 6 {
		return partitionCheckpoint{}, fmt.Errorf("%w: %d fields, want 3 to 6", errBadCheckpoint, len(lines))
	}
	var c partitionCheckpoint
	if c.recoveryPoint, err = field(lines[0], "recovery-point"); err != nil {
		return c, err
	}
	if c.highWatermark, err = field(lines[1], "high-watermark"); err != nil {
		return c, err
	}
	if c.logStartOffset, err = field(lines[2], "log-start-offset"); err != nil {
		return c, err
	}
	// The optional lines, each at most once, in this order.
	rest := lines[3:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "truncation-generation ") {
		if c.truncGen, err = field(rest[0], "truncation-generation"); err != nil {
			return c, err
		}
		rest = rest[1:]
	}
	if len(rest) > 0 && strings.HasPrefix(rest[0], "sequence ") {
		seq, err := field(rest[0], "sequence")
		if err != nil {
			return c, err
		}
		if seq < 0 {
			return c, fmt.Errorf("%w: negative sequence", errBadCheckpoint)
		}
		c.seq = uint64(seq)
		rest = rest[1:]
	}
	if len(rest) > 0 {
		owner, ok := strings.CutPrefix(rest[0], "owner ")
		if !ok || owner == "" {
			return c, fmt.Errorf("%w: unexpected line %q", errBadCheckpoint, rest[0])
		}
		c.owner = owner
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return c, fmt.Errorf("%w: unexpected line %q", errBadCheckpoint, rest[0])
	}
	if c.recoveryPoint < 0 || c.highWatermark < 0 || c.logStartOffset < 0 || c.truncGen < 0 {
		return c, fmt.Errorf("%w: negative offset", errBadCheckpoint)
	}
	return c, nil
}

// encodeEpochCheckpoint encodes the cache with sequence seq and owner (a
// line is left out when seq is 0 or owner empty, the format older versions
// wrote).
func encodeEpochCheckpoint(c *epochCache, seq uint64, owner string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nentries %d\n", epochCheckpointMagic, len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.epoch, e.start)
	}
	if seq > 0 {
		fmt.Fprintf(&b, "sequence %d\n", seq)
	}
	if owner != "" {
		fmt.Fprintf(&b, "owner %s\n", owner)
	}
	return sealCheckpoint(b.String())
}

// decodeEpochCheckpoint decodes a leader-epoch checkpoint: the cache, its
// sequence and its owner (zero and empty when the lines are absent).
func decodeEpochCheckpoint(data []byte) (epochCache, uint64, string, error) {
	lines, err := openCheckpoint(data, epochCheckpointMagic)
	if err != nil {
		return epochCache{}, 0, "", err
	}
	var owner string
	if len(lines) > 0 {
		if o, ok := strings.CutPrefix(lines[len(lines)-1], "owner "); ok && o != "" {
			owner = o
			lines = lines[:len(lines)-1]
		}
	}
	if len(lines) == 0 {
		return epochCache{}, 0, "", fmt.Errorf("%w: no entries line", errBadCheckpoint)
	}
	var seq uint64
	if last := lines[len(lines)-1]; strings.HasPrefix(last, "sequence ") {
		n, err := field(last, "sequence")
		if err != nil || n < 0 {
			return epochCache{}, 0, "", fmt.Errorf("%w: bad sequence line %q", errBadCheckpoint, last)
		}
		seq = uint64(n)
		lines = lines[:len(lines)-1]
	}
	n, err := field(lines[0], "entries")
	if err != nil {
		return epochCache{}, 0, "", err
	}
	if n != int64(len(lines)-1) {
		return epochCache{}, 0, "", fmt.Errorf("%w: %d entries announced, %d present", errBadCheckpoint, n, len(lines)-1)
	}
	var c epochCache
	for _, l := range lines[1:] {
		a, b, ok := strings.Cut(l, " ")
		epoch, err1 := strconv.ParseInt(a, 10, 32)
		start, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return epochCache{}, 0, "", fmt.Errorf("%w: entry %q", errBadCheckpoint, l)
		}
		if k := len(c.entries); k > 0 && (int32(epoch) <= c.entries[k-1].epoch || start <= c.entries[k-1].start) {
			return epochCache{}, 0, "", fmt.Errorf("%w: entry %q not increasing", errBadCheckpoint, l)
		}
		c.entries = append(c.entries, epochEntry{epoch: int32(epoch), start: start})
	}
	return c, seq, owner, nil
}

// epochFileNames are the leader-epoch checkpoint's two files.
var epochFileNames = [2]string{epochCheckpointFile, jobEpochCheckpointFile}

// IsEpochCheckpointFile reports whether name (a base name) is one of the
// leader-epoch checkpoint's files.
func IsEpochCheckpointFile(name string) bool {
	return name == epochCheckpointFile || name == jobEpochCheckpointFile
}

// CheckpointFileNames are the names of the partition checkpoint's two
// files inside a partition directory, for offline tools that read them
// (chronik dump) with LogStartFromCheckpoints.
var CheckpointFileNames = [2]string{checkpointFile, jobCheckpointFile}

// IsCheckpointFile reports whether name (a base name) is one of the
// partition checkpoint's files.
func IsCheckpointFile(name string) bool { return name == checkpointFile || name == jobCheckpointFile }

// LogStartFromCheckpoints returns the log start offset recorded in the
// current partition checkpoint, given the contents of the files named by
// CheckpointFileNames in that order (nil for an absent one), after
// checking their CRCs, so that offline tools skip records that
// DeleteRecords or retention removed. found is false when neither file
// exists; a file that exists but does not decode is an error (it may be
// the current one).
func LogStartFromCheckpoints(files [2][]byte) (start int64, found bool, err error) {
	c, found, err := pickCheckpoint(files)
	return c.logStartOffset, found, err
}

// pickCheckpoint decodes both checkpoint files (nil: absent) and returns
// the current one: the one with the higher sequence. Any file that exists
// and does not decode makes the result an error, since it may have been
// the current one.
func pickCheckpoint(files [2][]byte) (c partitionCheckpoint, found bool, err error) {
	for i, data := range files {
		if data == nil {
			continue
		}
		d, derr := decodePartitionCheckpoint(data)
		if derr != nil {
			return partitionCheckpoint{}, false, fmt.Errorf("%s: %w", CheckpointFileNames[i], derr)
		}
		if !found || d.seq > c.seq {
			c = d
		}
		found = true
	}
	return c, found, nil
}
