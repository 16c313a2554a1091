"""The chat's own Prometheus metrics (see `chat.ChatMetrics`), served at ``/metrics``.

`METRICS` is the one instance the chat records into; its registry is what ``/metrics``
exposes and what the Status command reads. Other parts of the chat call the small
functions here, e.g. the conversation store calls `record_history_save_failure()` when a
write fails.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, disable_created_metrics

from backend.metrics.chat import ChatMetrics, ChatSnapshot
from backend.metrics.kinds import ERROR_KINDS, error_kind

disable_created_metrics()  # no *_created series: Prometheus would store them as gauges
REGISTRY = CollectorRegistry()
METRICS = ChatMetrics(REGISTRY, process=True)


def record_history_save_failure() -> None:
    """A conversation could not be saved (the chat itself goes on)."""
    METRICS.history_save_failures.inc()


__all__ = [
    "ERROR_KINDS",
    "METRICS",
    "REGISTRY",
    "ChatMetrics",
    "ChatSnapshot",
    "error_kind",
    "record_history_save_failure",
]
