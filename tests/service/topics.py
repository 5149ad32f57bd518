"""The Kafka tests' own reads and writes of a topic: produce to chosen partitions, a group's
committed offsets, every message up to end markers the test appends (tansu's end offsets are
not exact enough to count on), and a wait that shows the workers' last log lines on failure."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

END_MARKER = b"end of the test's reading"


def produce(bootstrap: str, topic: str, payloads: Sequence[bytes], partitions: Sequence[int] | None = None) -> None:
    """Each payload to its partition (all to partition 0 by default), flushed."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 10_000_000})
    for payload, partition in zip(payloads, partitions or [0] * len(payloads)):
        producer.produce(topic, payload, partition=partition)
    assert producer.flush(30) == 0


def committed(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    """The group's committed offset of each partition (negative where none is)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return [p.offset for p in consumer.committed([TopicPartition(topic, p) for p in range(partitions)],
                                                     timeout=10)]
    finally:
        consumer.close()


def read_to_end(bootstrap: str, topic: str, partitions: int = 1, timeout_s: float = 30) -> list:
    """Every message the workers (now gone) left on the topic: all those before an end marker
    the test appends to each partition."""
    produce(bootstrap, topic, [END_MARKER] * partitions, list(range(partitions)))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}"})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    messages, ended, deadline = [], set(), time.monotonic() + timeout_s
    try:
        while len(ended) < partitions:
            assert time.monotonic() < deadline, f"end markers of {topic} read on partitions {ended} only"
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None and message.partition() not in ended:
                    if message.value() == END_MARKER:
                        ended.add(message.partition())
                    else:
                        messages.append(message)
    finally:
        consumer.close()
    return messages


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, *logs: list[str]) -> None:
    """Until ``condition()`` holds; on time-out, fails with the last 30 lines of each log."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            tails = "".join(line for log in logs for line in log[-30:])
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)
