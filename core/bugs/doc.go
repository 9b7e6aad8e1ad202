// Package bugs holds switches for deliberate bugs that prove the simulator
// (sim/) catches real mistakes. Each switch is a constant defined twice,
// once in a file built only under its build tag (value true) and once in
// its twin built otherwise (value false), so a normal build compiles every
// hook away. The hooks in core/broker, core/partlog, core/coord and core/group are a few lines
// each, marked "deliberate bug (core/bugs)".
//
// | constant               | build tag                      | effect                                                  |
// |------------------------|--------------------------------|---------------------------------------------------------|
// | AckBeforeSync          | chronik_bug_ack_before_sync    | acks=1/all produce answered before its fsync             |
// | ServePastHighWatermark | chronik_bug_serve_past_hw      | fetch reads up to the log end instead of the HW          |
// | SkipCRCCheck           | chronik_bug_skip_crc           | no CRC validation in recovery nor on reads               |
// | ReuseOffsetAfterCrash  | chronik_bug_reuse_offset       | recovery drops data past the checkpointed recovery point |
// | NoIdempotentDedup      | chronik_bug_no_dedup           | idempotent producer sequences are not checked            |
// | SyncCoversLaterAppends | chronik_bug_sync_covers_later  | a finished fsync counts appends made while it ran        |
// | HighWatermarkIgnoresFollowers | chronik_bug_hw_ignores_followers | the leader's HW ignores followers: acks=all before they have the data |
// | TruncateToHighWatermark | chronik_bug_truncate_to_hw    | a broker that starts following truncates to its own HW (pre-KIP-101), not by epoch |
// | ElectOutsideISR        | chronik_bug_elect_outside_isr  | fencing elects any unfenced replica, in the ISR or not  |
// | ReopenKeepsUnsynced    | chronik_bug_reopen_keeps_unsynced | a reopened partition trusts its cached tail past the last good fsync: no cut, no rewrite (fsyncgate) |
// | ServeBeforeCatchUp     | chronik_bug_serve_before_catchup | a restarted cluster broker serves clients from its stale image before its registration has applied |
// | RecoveryDeclaresCorrupt | chronik_bug_recovery_declares_corrupt | recovery's header scan of a synced segment stops one byte short: its last batch "passes the end" and good data is declared corrupt |
// | FsyncFailureTrusted    | chronik_bug_fsync_failure_trusted | after a failed fsync the log retries it and, when the retry succeeds, trusts the page cache (fsyncgate) |
// | SegmentNameUnsynced    | chronik_bug_segment_name_unsynced | a segment created by a roll gets no directory fsync: its name is not durable |
// | ISRAdmitEarly          | chronik_bug_isr_admit_early    | a follower joins the ISR once it reaches the high watermark, even below the leader's epoch start |
// | ISRNeverShrinks        | chronik_bug_isr_never_shrinks  | the leader's lag check is off: a lagging follower never leaves the ISR |
// | IgnoreMinInsync        | chronik_bug_ignore_min_insync  | acks=all appended and acknowledged while the ISR is below min.insync.replicas |
// | FollowerFetchStuck     | chronik_bug_follower_fetch_stuck | a follower whose replica fetch failed (timeout, reset) stops fetching the partition until its leader changes |
// | LogStartNotPersisted   | chronik_bug_log_start_not_persisted | recovery ignores the checkpointed log start: records deleted by DeleteRecords inside the first segment come back |
// | DeleteRecordsNoWait    | chronik_bug_delete_records_no_wait | DeleteRecords is answered when the leader's start moved, before the followers' |
// | ControlOnClientPort    | chronik_bug_control_on_client_port | the listener check is skipped: the client listener serves the control plane |
// | OwnerFileUnsynced      | chronik_bug_owner_file_unsynced | an existing directory's partition.metadata is taken as durable: no job syncs it, though the process that wrote it may have died before any did |
// | CleanerDropsLatest     | chronik_bug_cleaner_drops_latest | the log cleaner removes the latest record of a key along with the older ones |
// | CleanerSwapUnsynced    | chronik_bug_cleaner_swap_unsynced | the cleaner renames a cleaned segment over the original without fsyncing the cleaned file first |
// | CleanerTombstonesEarly | chronik_bug_cleaner_tombstones_early | the cleaner removes tombstones without waiting for delete.retention.ms |
// | CleanerIgnoresLag      | chronik_bug_cleaner_ignores_lag | the cleaner cleans segments whose records are younger than min.compaction.lag.ms |
// | ImageAnsweredEarly     | chronik_bug_image_answered_early | a single node installs and answers a metadata change when its image job starts, before the image is durable |
// | CommitBeforeCommitted  | chronik_bug_commit_before_committed | the coordinator runtime answers a write's requests (OffsetCommit, SyncGroup, ...) once it is appended, before the high watermark passes it |
// | ConsumerSkipsRevocation | chronik_bug_consumer_skips_revocation | a KIP-848 member gets its target partitions at once, before their previous owner acknowledged the revocation |
// | GenerationCheckSkipped | chronik_bug_generation_check_skipped | a classic OffsetCommit from a member with a stale generation is applied instead of answered ILLEGAL_GENERATION |
// | CoordinatorServesBeforeLoad | chronik_bug_coordinator_serves_before_load | a new coordinator shard ends its load at once, before replaying its partition: it serves from empty state |
// | PendingKeptOnMove      | chronik_bug_pending_kept_on_move | a leadership change keeps the shard's pending writes, which complete when the (follower's) high watermark passes their end (KAFKA-20634) |
// | JoinTimerIgnored       | chronik_bug_join_timer_ignored | a join phase's timer (the initial rebalance delay, the rebalance timeout) never ends it: only every member rejoining does |
// | OffsetFetchSkipsAhead  | chronik_bug_offset_fetch_skips_ahead | OffsetFetch answers a committed offset plus one, as if a commit were counted one record too far |
// | MemberEpochCheckSkipped | chronik_bug_member_epoch_check_skipped | a KIP-848 OffsetCommit with an older member epoch than the member's is applied instead of answered STALE_MEMBER_EPOCH |
// | LSOIgnoresOpenTxn      | chronik_bug_lso_ignores_open_txn | the partition log's last stable offset is the high watermark even while a transaction is open: read_committed reads see undecided records |
//
// sim/bugs_test.go (CHRONIK_BUG_HUNT=1) runs the simulator's sweep under
// each tag and requires a checker to fail within 200 seeds.
package bugs
