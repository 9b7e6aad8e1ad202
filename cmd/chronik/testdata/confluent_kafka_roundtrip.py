"""confluent-kafka-python (librdkafka) round trip against a Chronik broker.

Creates a 3-partition topic with the AdminClient, produces COUNT records with
an idempotent, acks=all, zstd-compressing producer, checks every delivery
report, then reads every partition back with assign() (no consumer group
coordination needed) and checks keys, values and offsets. Prints
"OK produced=N consumed=N" on success; exits non-zero otherwise.
"""
import argparse
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--replication-factor", type=int, default=1)
    args = ap.parse_args()
    partitions = 3

    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    for _, fut in admin.create_topics([NewTopic(args.topic, num_partitions=partitions, replication_factor=args.replication_factor)]).items():
        fut.result(timeout=args.timeout)

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "zstd",
    })
    reports = []
    for i in range(args.count):
        producer.produce(args.topic, key=b"key-%d" % i, value=b"value-%d" % i, partition=i % partitions,
                         on_delivery=lambda err, msg: reports.append((err, msg.partition(), msg.offset(), msg.key())))
    remaining = producer.flush(args.timeout)
    if remaining:
        sys.exit("%d records still unacknowledged after %.0fs" % (remaining, args.timeout))
    failed = [r for r in reports if r[0] is not None]
    if len(reports) != args.count or failed:
        sys.exit("delivery reports: %d of %d, failures %s" % (len(reports), args.count, failed[:3]))
    acked = {(p, off): key for (_, p, off, key) in reports}

    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "chronik-e2e-unused", "enable.auto.commit": False})
    consumed = 0
    for p in range(partitions):
        want = sorted(off for (pp, off) in acked if pp == p)
        consumer.assign([TopicPartition(args.topic, p, 0)])
        got = []
        while len(got) < len(want):
            msg = consumer.poll(args.timeout)
            if msg is None:
                sys.exit("partition %d: timed out after %d of %d records" % (p, len(got), len(want)))
            if msg.error():
                sys.exit("partition %d: %s" % (p, msg.error()))
            if acked.get((p, msg.offset())) != msg.key() or msg.value() != msg.key().replace(b"key", b"value"):
                sys.exit("partition %d offset %d: key %r value %r" % (p, msg.offset(), msg.key(), msg.value()))
            got.append(msg.offset())
        if got != want:
            sys.exit("partition %d: offsets %s, want %s" % (p, got[:5], want[:5]))
        consumed += len(got)
    consumer.close()
    print("OK produced=%d consumed=%d" % (len(reports), consumed))


if __name__ == "__main__":
    main()
