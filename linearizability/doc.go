// Package linearizability checks client-observed histories of Kafka
// partitions. The simulator (sim/) and real-cluster tests both record what
// their clients did as a []Op and hand it to this package.
//
// Two independent checkers look at the same history:
//
//   - CheckLinearizability runs porcupine with PartitionLogModel, a
//     sequential specification of one partition's committed log. It is
//     exhaustive but can be slow (NP-hard), so it takes a step budget
//     (Options.StepBudget), which is deterministic.
//   - CheckOffsets runs Jepsen-style offset checks (lost write, duplicate,
//     inconsistent offset, poll skip, non-monotonic send or poll, wrong
//     acknowledged offset, unexpected value). They are linear-ish in the
//     history size and name the exact offsets, values and ops involved, which
//     makes a failure far easier to read than a porcupine diagram.
//
// Check runs both and returns a Report.
//
// # What the model means by "the log"
//
// The model's state is the committed log of one partition: the records below
// the high watermark, in offset order. An acks=all produce returns ok only
// after the high watermark passed its batch, so its linearization point is
// the moment it became committed. Consumers only see records below the high
// watermark, so a fetch is a read of a range of that committed log plus a read
// of its length (the high watermark in the response).
//
// Unknown outcomes and reads near the high watermark are the subtle parts;
// PartitionLogModel documents how each is modelled and why.
//
// # Assumptions about histories
//
//   - Every appended value is unique within its partition (workloads make
//     them unique). The checkers identify writes by value.
//   - Every offset holds exactly one value: no compaction or transaction
//     markers. The log may lose its head to retention and DeleteRecords
//     (its start moves forward): the history says what could trim it
//     (OpRetention markers, OpDeleteRecords) and what clients saw of the
//     start (OpStartOffset, out-of-range reads); a final drain begins at
//     the log start, and a write below it counts as gone legitimately only
//     if a trim could reach it (otherwise DeletedWrite).
//   - A produce is recorded as OutcomeOK only with acks=all; acks=1 or acks=0
//     acknowledgements are not linearizable and must be recorded as
//     OutcomeUnknown.
//   - OutcomeFailed on an append means the broker definitely did not apply
//     it (for example INVALID_RECORD, RECORD_TOO_LARGE, or NOT_ENOUGH_REPLICAS,
//     which is checked before the append). Errors that may follow a local
//     append (NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT, a broken
//     connection) must be recorded as OutcomeUnknown.
//   - Times (Call, Return) are int64 nanoseconds or virtual ticks taken from
//     one clock; the checkers never read a clock themselves.
//
// # Determinism
//
// With a zero timeout the verdicts and findings depend only on the history
// and Options.StepBudget: a partition whose search needs more units than
// the budget is undecided (VerdictUndecided), the same on every machine. A
// non-zero timeout is measured by porcupine on the wall clock, so an
// Unknown verdict depends on machine speed; the simulator uses the budget
// only.
// Porcupine orders partial linearizations in its HTML output by map
// iteration, so the visualization file is not byte-for-byte reproducible even
// though the verdict is.
package linearizability
