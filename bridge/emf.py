"""CloudWatch embedded metric format (EMF): figures written as one JSON log line each, which
CloudWatch turns into metrics when the line arrives through its logs, so operators in AWS get
them without extra API calls."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TextIO

EMF_NAMESPACE = "PimBridge"

# Metric name -> (value, CloudWatch unit).
Figures = dict[str, tuple[float, str]]


class EmfWriter:
    """Writes EMF lines while switched on; silent otherwise. Lines from several threads never
    interleave."""

    def __init__(self, *, enabled: bool = False, out: TextIO | None = None) -> None:
        self._enabled = enabled
        self._out = out or sys.stdout
        self._lock = threading.Lock()

    def emit(self, values: Figures, dimensions: dict[str, str]) -> None:
        if not self._enabled or not values:
            return
        line = json.dumps(_document(values, dimensions)) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


def _document(values: Figures, dimensions: dict[str, str]) -> dict[str, object]:
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": EMF_NAMESPACE,
                    # Also without dimensions, so one alarm covers every cycle kind.
                    "Dimensions": [sorted(dimensions), []] if dimensions else [[]],
                    "Metrics": [{"Name": k, "Unit": unit} for k, (_, unit) in values.items()],
                }
            ],
        },
        **dimensions,
        **{k: v for k, (v, _) in values.items()},
    }
