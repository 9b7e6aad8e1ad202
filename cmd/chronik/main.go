// Command chronik is the Chronik broker: a Kafka-compatible streaming
// broker. `chronik serve` (or a bare `chronik`) runs a node; `chronik dump`
// prints a partition's records from its data directory.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/wire"
	"github.com/chronik-streaming/chronik/node"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	serve := newServeCommand()
	var showVersion bool
	root := &cobra.Command{
		Use:   "chronik",
		Short: "Chronik is a Kafka-compatible streaming broker",
		Long: "Chronik is a Kafka-wire-compatible streaming broker.\n\n" +
			"Run without a command it serves a single node on 127.0.0.1:9092 with its data in ./chronik-data\n" +
			"(the same as `chronik serve`).",
		Args:          unknownCommand,
		SilenceUsage:  true,
		SilenceErrors: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return printVersion(cmd)
			}
			return serve.RunE(cmd, args)
		},
	}
	// Not cobra's Version field: its version output goes through
	// text/template, whose reflection keeps every exported method of the
	// binary alive (5 MB more).
	root.Flags().BoolVar(&showVersion, "version", false, "print the version (the same as `chronik version`)")
	root.SuggestionsMinimumDistance = 2
	// Every command inherits it: a mistyped flag gets a suggestion.
	root.SetFlagErrorFunc(flagError)
	// A bare `chronik` accepts serve's flags too.
	root.Flags().AddFlagSet(serve.Flags())
	root.AddCommand(serve, newDumpCommand(), newBenchCommand(), newVersionCommand())
	return root
}

// serveOptions are the flags of `chronik serve`.
type serveOptions struct {
	id                int32
	kafkaAddr         string
	advertisedAddr    string
	raftAddr          string
	controllerAddr    string
	dataDir           string
	voters            string
	clusterID         string
	logLevel          string
	autoCreateTopics  bool
	numPartitions     int32
	replicationFactor int16
	syncWrites        bool
	segmentBytes      int64
	segmentMs         int64
	retentionMs       int64
	retentionBytes    int64
	retentionCheckMs  int64
	scrubBytesPerSec  int64
	maxMessageBytes   int64
	requestMaxBytes   int32
	maxConnections    int
	queuedMaxBytes    int64
	fetchMaxBytes     int32
	// Consumer groups and compaction.
	groupInitialDelayMs     int32
	groupMinSessionMs       int32
	groupMaxSessionMs       int32
	groupMaxSize            int
	offsetsPartitions       int32
	offsetsReplication      int16
	txnStatePartitions      int32
	txnStateReplication     int16
	offsetsRetentionMinutes int64
	cleanerBackoffMs        int64
	// replicationFactorSet says --default-replication-factor was given;
	// cluster mode derives the default otherwise.
	replicationFactorSet bool
}

func newServeCommand() *cobra.Command {
	def := broker.DefaultConfig()
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker",
		Long: "Run a Chronik broker. With no flags it serves a single node on 127.0.0.1:9092 and keeps its\n" +
			"data in ./chronik-data. SIGTERM or SIGINT stops it gracefully.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.replicationFactorSet = cmd.Flags().Changed("default-replication-factor")
			return runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.Int32Var(&o.id, "id", 1, "node id (node.id)")
	f.StringVar(&o.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "address the Kafka listener binds")
	f.StringVar(&o.advertisedAddr, "advertised-addr", "", "host:port advertised to clients in Metadata (default: --kafka-addr, with 127.0.0.1 for an unspecified host)")
	f.StringVar(&o.raftAddr, "raft-addr", "", "address the metadata quorum transport binds (cluster mode; default: this node's address in --voters)")
	f.StringVar(&o.controllerAddr, "controller-addr", "", "address the control listener binds, on which the other brokers reach this one (cluster mode; default: this node's raft host with its raft port + 1000)")
	f.StringVar(&o.dataDir, "data-dir", "./chronik-data", "directory holding the broker's data")
	f.StringVar(&o.voters, "voters", "", "metadata quorum voters as id@host:port,... (their raft addresses; --id must be one of them); empty runs a single node")
	f.StringVar(&o.clusterID, "cluster-id", def.ClusterID, "cluster id reported to clients")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.BoolVar(&o.autoCreateTopics, "auto-create-topics", def.AutoCreateTopics, "create unknown topics on Metadata requests (auto.create.topics.enable)")
	f.Int32Var(&o.numPartitions, "num-partitions", def.NumPartitions, "default partition count for new topics (num.partitions)")
	f.Int16Var(&o.replicationFactor, "default-replication-factor", def.DefaultReplicationFactor, "default replication factor (default.replication.factor; in a cluster the default is min(3, voters))")
	f.BoolVar(&o.syncWrites, "sync-writes", def.SyncWrites, "answer acks=1/all produces only after their batch is fsynced (group commit); false relies on the page cache like Kafka's default")
	f.Int64Var(&o.segmentBytes, "log-segment-bytes", def.LogDefaults.SegmentBytes, "default segment.bytes (log.segment.bytes)")
	f.Int64Var(&o.segmentMs, "log-roll-ms", def.LogDefaults.SegmentMs, "default segment.ms (log.roll.ms)")
	f.Int64Var(&o.retentionMs, "log-retention-ms", def.LogDefaults.RetentionMs, "default retention.ms (log.retention.ms); -1 keeps forever")
	f.Int64Var(&o.retentionBytes, "log-retention-bytes", def.LogDefaults.RetentionBytes, "default retention.bytes (log.retention.bytes); -1 means no size limit")
	f.Int64Var(&o.retentionCheckMs, "log-retention-check-interval-ms", def.RetentionCheckIntervalMs, "how often retention deletes expired segments (log.retention.check.interval.ms)")
	f.Int64Var(&o.scrubBytesPerSec, "log-scrub-bytes-per-sec", def.ScrubBytesPerPass*1000/def.ScrubIntervalMs, "bytes of stored records the background scrubber reads and CRC-checks per second, to find damage no client reads; 0 disables it")
	f.Int64Var(&o.maxMessageBytes, "message-max-bytes", def.LogDefaults.MaxMessageBytes, "largest record batch accepted (message.max.bytes)")
	f.Int32Var(&o.requestMaxBytes, "socket-request-max-bytes", 100<<20, "largest request frame accepted (socket.request.max.bytes)")
	f.IntVar(&o.maxConnections, "max-connections", 4096, "maximum concurrent client connections")
	f.Int64Var(&o.queuedMaxBytes, "queued-max-request-bytes", 0, "memory budget for requests and responses in flight, all connections together (queued.max.request.bytes); 0 sizes it to the machine: an eighth of its memory, within 64 MiB..1 GiB")
	f.Int32Var(&o.fetchMaxBytes, "fetch-max-bytes", def.FetchMaxBytes, "largest fetch response, whatever the client asks (fetch.max.bytes; a larger first batch is still returned whole)")
	f.Int32Var(&o.groupInitialDelayMs, "group-initial-rebalance-delay-ms", def.GroupCoordinator.InitialRebalanceDelayMs, "how long a new classic group waits for more members before its first rebalance (group.initial.rebalance.delay.ms; 0 suits tests)")
	f.Int32Var(&o.groupMinSessionMs, "group-min-session-timeout-ms", def.GroupCoordinator.MinSessionTimeoutMs, "smallest session timeout a classic member may ask for (group.min.session.timeout.ms)")
	f.Int32Var(&o.groupMaxSessionMs, "group-max-session-timeout-ms", def.GroupCoordinator.MaxSessionTimeoutMs, "largest session timeout a classic member may ask for (group.max.session.timeout.ms)")
	f.IntVar(&o.groupMaxSize, "group-max-size", def.GroupCoordinator.MaxGroupSize, "most members of one classic group (group.max.size)")
	f.Int32Var(&o.offsetsPartitions, "offsets-topic-num-partitions", def.OffsetsTopicPartitions, "partitions of __consumer_offsets when it is created (offsets.topic.num.partitions); the same on every broker of a cluster")
	f.Int16Var(&o.offsetsReplication, "offsets-topic-replication-factor", def.OffsetsTopicReplicationFactor, "replication factor of __consumer_offsets, capped at the brokers there are when it is created (offsets.topic.replication.factor)")
	f.Int32Var(&o.txnStatePartitions, "transaction-state-log-num-partitions", def.TransactionStateLogNumPartitions, "partitions of __transaction_state when it is created (transaction.state.log.num.partitions); the same on every broker of a cluster")
	f.Int16Var(&o.txnStateReplication, "transaction-state-log-replication-factor", def.TransactionStateLogReplicationFactor, "replication factor of __transaction_state, capped at the brokers there are when it is created (transaction.state.log.replication.factor)")
	f.Int64Var(&o.offsetsRetentionMinutes, "offsets-retention-minutes", def.GroupCoordinator.OffsetsRetentionMs/60000, "how long the committed offsets of an empty group are kept (offsets.retention.minutes)")
	f.Int64Var(&o.cleanerBackoffMs, "log-cleaner-backoff-ms", def.CleanerBackoffMs, "how often the log cleaner looks for a compacted partition to clean (log.cleaner.backoff.ms)")
	return cmd
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("invalid --log-level %q: %w", s, err)
	}
	return l, nil
}

func runServe(ctx context.Context, o *serveOptions) error {
	level, err := parseLogLevel(o.logLevel)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var cluster *node.ClusterConfig
	if strings.TrimSpace(o.voters) != "" {
		voters, err := parseVoters(o.voters)
		if err != nil {
			return fmt.Errorf("--voters: %w", err)
		}
		own, ok := voters[o.id]
		if !ok {
			return fmt.Errorf("--voters: --id %d is not one of the voters (%s)", o.id, o.voters)
		}
		raftAddr := own
		if o.raftAddr != "" {
			raftAddr = o.raftAddr
		}
		if o.controllerAddr != "" {
			if _, _, err := splitHostPort(o.controllerAddr); err != nil {
				return fmt.Errorf("--controller-addr %q is not host:port: %w", o.controllerAddr, err)
			}
		}
		cluster = &node.ClusterConfig{RaftAddr: raftAddr, RaftAdvertiseAddr: own, Voters: voters, ControlAddr: o.controllerAddr}
		if !o.replicationFactorSet {
			o.replicationFactor = int16(min(3, len(voters)))
		}
	}
	if cluster == nil && o.raftAddr != "" {
		return fmt.Errorf("--raft-addr needs --voters (a single node has no metadata quorum)")
	}
	if cluster == nil && o.controllerAddr != "" {
		return fmt.Errorf("--controller-addr needs --voters (a single node has no control listener)")
	}
	cfg := broker.DefaultConfig()
	cfg.NodeID = o.id
	cfg.ClusterID = o.clusterID
	cfg.AutoCreateTopics = o.autoCreateTopics
	cfg.NumPartitions = o.numPartitions
	cfg.DefaultReplicationFactor = o.replicationFactor
	cfg.SyncWrites = o.syncWrites
	cfg.LogDefaults.SegmentBytes = o.segmentBytes
	cfg.LogDefaults.SegmentMs = o.segmentMs
	cfg.LogDefaults.RetentionMs = o.retentionMs
	cfg.LogDefaults.RetentionBytes = o.retentionBytes
	cfg.RetentionCheckIntervalMs = o.retentionCheckMs
	cfg.ScrubBytesPerPass, cfg.ScrubIntervalMs = o.scrubBytesPerSec, 1000
	cfg.LogDefaults.MaxMessageBytes = o.maxMessageBytes
	cfg.GroupCoordinator.InitialRebalanceDelayMs = o.groupInitialDelayMs
	cfg.GroupCoordinator.MinSessionTimeoutMs = o.groupMinSessionMs
	cfg.GroupCoordinator.MaxSessionTimeoutMs = o.groupMaxSessionMs
	cfg.GroupCoordinator.MaxGroupSize = o.groupMaxSize
	if o.offsetsRetentionMinutes < 1 || o.offsetsRetentionMinutes > math.MaxInt64/60000 {
		return fmt.Errorf("--offsets-retention-minutes %d must be at least 1 (and fit in milliseconds)", o.offsetsRetentionMinutes)
	}
	cfg.GroupCoordinator.OffsetsRetentionMs = o.offsetsRetentionMinutes * 60000
	cfg.OffsetsTopicPartitions = o.offsetsPartitions
	cfg.OffsetsTopicReplicationFactor = o.offsetsReplication
	cfg.TransactionStateLogNumPartitions = o.txnStatePartitions
	cfg.TransactionStateLogReplicationFactor = o.txnStateReplication
	cfg.CleanerBackoffMs = o.cleanerBackoffMs
	// Each address error names the flag the operator typed: the
	// advertised address derives from --kafka-addr when not given.
	if _, _, err := splitHostPort(o.kafkaAddr); err != nil {
		return fmt.Errorf("--kafka-addr %q is not host:port: %w", o.kafkaAddr, err)
	}
	cfg.FetchMaxBytes = o.fetchMaxBytes
	advertised := o.advertisedAddr
	if advertised == "" {
		advertised = o.kafkaAddr
	}
	host, port, err := splitHostPort(advertised)
	if err != nil {
		return fmt.Errorf("--advertised-addr %q is not host:port: %w", advertised, err)
	}
	cfg.AdvertisedHost, cfg.AdvertisedPort = host, port
	if err := cfg.Validate(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.New(node.Config{
		DataDir: o.dataDir,
		Broker:  cfg,
		Wire: wire.Config{
			Addr:            o.kafkaAddr,
			MaxRequestBytes: o.requestMaxBytes,
			MaxConns:        o.maxConnections,

			// Memory for requests and responses in flight.
			QueuedMaxRequestBytes: o.queuedMaxBytes,
		},
		Logger:  logger,
		Cluster: cluster,
	})
	if err != nil {
		// The command prints the error once ("Error: ..."); a log line
		// would only repeat it.
		return err
	}
	return n.Run(ctx)
}

// parseVoters parses --voters: id@host:port entries separated by commas.
func parseVoters(s string) (map[int32]string, error) {
	voters := map[int32]string{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		idText, addr, ok := strings.Cut(entry, "@")
		if !ok {
			return nil, fmt.Errorf("entry %q is not id@host:port", entry)
		}
		id, err := strconv.ParseInt(idText, 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("entry %q: id %q is not a node id", entry, idText)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("entry %q: %w", entry, err)
		}
		if _, dup := voters[int32(id)]; dup {
			return nil, fmt.Errorf("node id %d appears twice", id)
		}
		voters[int32(id)] = addr
	}
	return voters, nil
}

// splitHostPort splits an address for advertising: an unspecified host
// (empty, 0.0.0.0 or ::) is advertised as 127.0.0.1, the only address a
// client on this machine is sure to reach.
func splitHostPort(addr string) (string, int32, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", portText, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return host, int32(port), nil
}
