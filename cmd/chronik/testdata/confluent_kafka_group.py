#!/usr/bin/env python3
"""A confluent-kafka-python group consumer that rides through a coordinator
failover.

Usage: confluent_kafka_group.py BOOTSTRAP TOPIC GROUP TOTAL TIMEOUT_S

BOOTSTRAP is a comma-separated broker list. The Consumer (group GROUP,
manual commits) consumes TOPIC and commits synchronously after every batch
that returned records, until it has seen TOTAL distinct values; a commit
that fails (the coordinator moved, the group rebalanced) is retried with
the next batch, as an application would. It then commits, closes and prints
"consumed DISTINCT DELIVERIES", waits for a line on stdin (the Go test
checks the committed offsets with its own client first) and prints whether
AdminClient.list_consumer_groups (list_groups before confluent-kafka 2.0)
lists the group. Exits 1 with "FAIL: ..."
on a timeout or an error.
"""

import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient


def main():
    bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
    total, timeout = int(sys.argv[4]), float(sys.argv[5])
    deadline = time.time() + timeout
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    seen, deliveries, refused = set(), 0, 0
    while len(seen) < total:
        if time.time() > deadline:
            print("FAIL: saw %d distinct values of %d within %ss" % (len(seen), total, timeout), flush=True)
            sys.exit(1)
        msgs = [m for m in c.consume(num_messages=100, timeout=0.5) if not m.error()]
        for m in msgs:
            seen.add(m.value())
            deliveries += 1
        if msgs:
            try:
                c.commit(asynchronous=False)
            except KafkaException as e:
                refused += 1
                print("commit refused (retried with the next batch): %s" % e, file=sys.stderr, flush=True)
    # The last commit must succeed: retry it while the coordinator moves.
    # _NO_OFFSET means every offset consumed is committed already.
    while True:
        try:
            c.commit(asynchronous=False)
            break
        except KafkaException as e:
            if e.args[0].code() == KafkaError._NO_OFFSET:
                break
            if time.time() > deadline:
                print("FAIL: final commit: %s" % e, flush=True)
                sys.exit(1)
            print("final commit refused (retrying): %s" % e, file=sys.stderr, flush=True)
            time.sleep(0.2)
    c.close()
    print("consumed %d %d" % (len(seen), deliveries), flush=True)
    sys.stdin.readline()

    a = AdminClient({"bootstrap.servers": bootstrap})
    if hasattr(a, "list_consumer_groups"):  # confluent-kafka >= 2.0
        ids = [g.group_id for g in a.list_consumer_groups(request_timeout=20).result(timeout=30).valid]
    else:  # older releases (Debian's 1.7) have only list_groups
        ids = [g.id for g in a.list_groups(timeout=20)]
    print("listed", group in ids, flush=True)


if __name__ == "__main__":
    main()
