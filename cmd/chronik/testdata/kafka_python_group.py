#!/usr/bin/env python3
"""A kafka-python group consumer that rides through a coordinator failover.

Usage: kafka_python_group.py BOOTSTRAP TOPIC GROUP TOTAL TIMEOUT_S

BOOTSTRAP is a comma-separated broker list. The KafkaConsumer (group GROUP,
manual commits) polls TOPIC and commits after every poll that returned
records, until it has seen TOTAL distinct values; a commit refused because
the group rebalanced is retried with the next poll, as an application
would. It then commits, closes and prints "consumed DISTINCT DELIVERIES".
It then waits for a line on stdin (the Go test checks the committed offsets
with its own client first) and uses KafkaAdminClient on the group: the
committed offsets' sum, whether it is listed, its described state, and its
deletion. Exits 1 with "FAIL: ..." on a timeout or an error.
"""

import logging
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError


def main():
    bootstrap, topic, group = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
    total, timeout = int(sys.argv[4]), float(sys.argv[5])
    # Warnings (a refused connection to the killed broker, a lost
    # coordinator) go to stderr, which the Go test prints on failure.
    logging.basicConfig(level=logging.WARNING)
    deadline = time.time() + timeout
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000)
    seen, deliveries, refused = set(), 0, 0
    committed = False  # whether the last commit covers every record seen
    while len(seen) < total or not committed:
        if time.time() > deadline:
            print("FAIL: saw %d distinct values of %d (last commit ok: %s) within %ss" % (len(seen), total, committed, timeout), flush=True)
            sys.exit(1)
        batches = c.poll(timeout_ms=500)
        for records in batches.values():
            for r in records:
                seen.add(r.value)
                deliveries += 1
        if batches or not committed:
            try:
                c.commit()
                committed = True
            except CommitFailedError:
                # The group rebalanced: the next poll rejoins, then commit again.
                refused += 1
                committed = False
    c.close()
    print("consumed %d %d" % (len(seen), deliveries), flush=True)
    print("refused commits %d" % refused, file=sys.stderr, flush=True)
    sys.stdin.readline()

    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    offsets = a.list_consumer_group_offsets(group)
    print("committed", sum(o.offset for o in offsets.values()))
    print("listed", group in [g for g, _ in a.list_consumer_groups()])
    desc = a.describe_consumer_groups([group])[0]
    print("described", desc.state, desc.protocol_type)
    deleted = a.delete_consumer_groups([group])
    print("deleted", deleted[0][1].__name__, group in [g for g, _ in a.list_consumer_groups()], flush=True)
    a.close()


if __name__ == "__main__":
    try:
        main()
    except KafkaError as e:
        print("FAIL: %r" % e, flush=True)
        sys.exit(1)
