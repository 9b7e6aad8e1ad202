#!/usr/bin/env python3
"""Round trip through a Kafka broker with kafka-python.

Produces --count records to partition 0 of --topic (normally a topic that
does not exist yet: kafka-python's Metadata v1 request auto-creates it) with
acks='all' and an optional compression type, then consumes them back
without a consumer group (assign + seek_to_beginning) and checks offsets,
keys, values, headers and timestamps, plus beginning/end offsets and
offsets_for_times. Prints "OK ..." and exits 0 on success; prints "FAIL: ..."
and exits 1 otherwise. Used by TestE2EKafkaPython.
"""

import argparse
import logging
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--compression", default=None)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    # kafka-python logs every produce retry at WARNING ("Got error produce
    # response ..., retrying"): a failure then shows why a batch was sent
    # twice, on stderr, which the Go test prints.
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    deadline = time.time() + args.timeout

    def remaining():
        return max(1.0, deadline - time.time())

    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        client_id="chronik-e2e-python",
        acks="all",
        compression_type=args.compression,
        linger_ms=5,
        retries=3,
        # Ordered retries: with several batches in flight, a batch retried
        # after a retriable error (UNKNOWN_TOPIC_OR_PARTITION from a leader
        # that has not yet applied the auto-created topic) lands after a
        # later batch, as in Kafka without idempotence, and the offsets
        # would not follow the send order this script checks.
        max_in_flight_requests_per_connection=1,
        request_timeout_ms=15000,
        max_block_ms=20000,
    )
    base_ts = int(time.time() * 1000) - 60000
    expected = []
    futures = []
    for i in range(args.count):
        key = ("key-%d" % i).encode()
        value = ("value-%d-%s" % (i, "x" * (i % 50))).encode()
        headers = [("idx", str(i).encode()), ("src", b"kafka-python")]
        ts = base_ts + i * 10
        futures.append(
            producer.send(args.topic, key=key, value=value, headers=headers, partition=0, timestamp_ms=ts)
        )
        expected.append((key, value, headers, ts))
    producer.flush(timeout=remaining())
    offsets = []
    for i, f in enumerate(futures):
        try:
            md = f.get(timeout=remaining())
        except Exception as e:  # noqa: BLE001 - report any client error
            fail("record %d not acknowledged: %r" % (i, e))
        offsets.append(md.offset)
    producer.close(timeout=5)
    if offsets != list(range(args.count)):
        fail("acknowledged offsets %s..., want 0..%d" % (offsets[:10], args.count - 1))

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id="chronik-e2e-python",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=500,
        request_timeout_ms=30000,
    )
    tp = TopicPartition(args.topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = []
    while len(got) < args.count and time.time() < deadline:
        for recs in consumer.poll(timeout_ms=1000).values():
            got.extend(recs)
    if len(got) != args.count:
        fail("consumed %d records, want %d" % (len(got), args.count))
    for i, r in enumerate(got):
        key, value, headers, ts = expected[i]
        if r.offset != i:
            fail("record %d has offset %d" % (i, r.offset))
        if r.key != key or r.value != value:
            fail("record %d: key %r value %r, want %r %r" % (i, r.key, r.value, key, value))
        if [(k, bytes(v)) for k, v in r.headers] != headers:
            fail("record %d: headers %r, want %r" % (i, r.headers, headers))
        if r.timestamp != ts or r.timestamp_type != 0:
            fail("record %d: timestamp %d (type %d), want %d (create time)" % (i, r.timestamp, r.timestamp_type, ts))

    begin = consumer.beginning_offsets([tp])[tp]
    end = consumer.end_offsets([tp])[tp]
    if begin != 0 or end != args.count:
        fail("beginning/end offsets %d/%d, want 0/%d" % (begin, end, args.count))
    mid = args.count // 2
    found = consumer.offsets_for_times({tp: base_ts + mid * 10 - 5})[tp]
    if found is None or found.offset != mid or found.timestamp != base_ts + mid * 10:
        fail("offsets_for_times: %r, want offset %d timestamp %d" % (found, mid, base_ts + mid * 10))
    consumer.close()
    print("OK produced=%d consumed=%d compression=%s" % (args.count, len(got), args.compression), flush=True)


if __name__ == "__main__":
    main()
