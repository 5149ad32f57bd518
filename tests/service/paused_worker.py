"""``python -m tests.service.paused_worker run ...``: ``alerce-classifier`` whose every Kafka
commit first holds for HOLD_S seconds, after the batch is stored and published.

For the exactly-once test, which SIGKILLs it right there. The hook lives in this test-only
process (it wraps the one consumer loop's commit); production code reads no test switch.
"""
from __future__ import annotations

import logging
import sys
import time

from classifier_service.cli import main
from classifier_service.stream.consumer import KafkaSource

HOLD_S = 120.0
log = logging.getLogger("paused_worker")
_commit = KafkaSource.commit


def holding_commit(self: KafkaSource, batch) -> None:
    log.warning("holding commit of %d messages for %.0f s", len(batch), HOLD_S)
    time.sleep(HOLD_S)
    _commit(self, batch)


if __name__ == "__main__":
    KafkaSource.commit = holding_commit
    sys.exit(main(sys.argv[1:]))
