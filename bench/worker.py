"""``bwv worker`` with Faust's consumer fetch wait changed: for latency benchmarks on Tansu only.

Faust creates its consumer with ``fetch_max_wait_ms=1500`` (hard-coded). Kafka
answers a fetch as soon as data arrives, so the wait costs no latency there;
Tansu (the local broker) answers a fetch over several partitions only when the
wait runs out (measured: 1.23 s per hop with 4 partitions, 5 ms with one). With
``BWV_BENCH_FETCH_WAIT_MS`` set, this runs the unchanged worker with that wait
instead, so a latency benchmark on Tansu sees the worker's latency rather than
the broker's. Nothing else differs; production never runs this.

    BWV_BENCH_FETCH_WAIT_MS=10 python -m bench.worker
"""

from __future__ import annotations

import os
import sys

FAUST_FETCH_WAIT_MS = 1500


def _patch(wait_ms: int) -> None:
    import aiokafka

    original = aiokafka.AIOKafkaConsumer.__init__

    def init(self: aiokafka.AIOKafkaConsumer, *args: object, **kwargs: object) -> None:
        if kwargs.get("fetch_max_wait_ms") == FAUST_FETCH_WAIT_MS:  # Faust's worker consumer only
            kwargs["fetch_max_wait_ms"] = wait_ms
        original(self, *args, **kwargs)

    aiokafka.AIOKafkaConsumer.__init__ = init  # type: ignore[method-assign]


def main() -> None:
    wait = os.environ.get("BWV_BENCH_FETCH_WAIT_MS")
    if wait:
        _patch(int(wait))
    from bwv.cli import main as bwv_main

    sys.argv = ["bwv", "worker"]
    bwv_main()


if __name__ == "__main__":
    main()
