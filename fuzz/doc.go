// Package fuzz holds Chronik's Go native fuzz targets and the nightly
// fuzzing entry point (nightly.sh). The package has no non-test code besides
// this comment: every target lives in a _test.go file so that
//
//	go test ./fuzz
//
// runs the seed corpora (the f.Add seeds plus anything committed under
// testdata/fuzz/<Target>/) as ordinary, fast tests, and
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzRecordBatch$' -fuzztime 10m
//
// fuzzes one target. The targets and what they check:
//
//   - FuzzRequestFrame: raw request frames through broker.ParseRequest and
//     Broker.HandleRequest (request_frame_test.go).
//   - FuzzRecordBatch: raw bytes through the record package's validation,
//     framing and decoding (record_batch_test.go).
//   - FuzzLogRecovery: arbitrary partition directories through partlog.Open
//     (log_recovery_test.go).
//   - FuzzLogCrash: a log built by appends, syncs and truncations, crashed
//     with torn writes and damaged on disk, then reopened
//     (log_crash_test.go).
//   - FuzzGroupReplay: arbitrary __consumer_offsets records replayed into a
//     group coordinator shard, then requests and timers; invariants hold
//     (group_fuzz_test.go).
//   - FuzzGroupRequests: arbitrary bytes decoded as any group API at any
//     version, handled by a shard: no panic, invariants hold, answers
//     encode (group_fuzz_test.go).
//   - FuzzTxnReplay: arbitrary __transaction_state records replayed into a
//     transaction coordinator shard, then requests built from its state,
//     marker reports and timers; invariants hold, epochs never go down,
//     and replaying what it wrote gives the same state (txn_fuzz_test.go).
//   - FuzzSimulator: the deterministic simulator (package sim) with a
//     fuzzer-chosen seed and fault-phase length (simulator_test.go).
//
// A failing input is written by `go test -fuzz` to
// testdata/fuzz/<Target>/<hash>; `go test ./fuzz -run '<Target>/<hash>'`
// replays it. Commit such a file only together with the fix that makes it
// pass, since go test ./... must stay green.
package fuzz
