"""The functions' door to their metrics (declared in handlers.telemetry), written with Powertools
Metrics as CloudWatch's embedded metric format: JSON lines on stdout, which CloudWatch (or the
local stack's forwarder) turns into metrics. No AWS call.

One Meter per function. Its namespace and `service` come from POWERTOOLS_METRICS_NAMESPACE and
POWERTOOLS_SERVICE_NAME (deploy sets both); without them (unit tests, the devserver), the default
stack's namespace and the function's own service. `record` puts a metric where its declaration
says: one without dimensions of its own joins the invocation's line, written once when the
invocation ends (`log_metrics`; several photos of one event are several samples of that line); one
with dimensions (a refusal's code, a request's route and status) is written at once on a line of
its own, so its dimensions never reach the others.

A metric never fails what it measures: a value or dimension that cannot be written is logged and
dropped, and the request or the photo goes on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics
from aws_lambda_powertools.shared import constants

from handlers.telemetry import FALLBACK_NAMESPACE, Metric

# CloudWatch keeps a dimension value of up to 1024 characters; ours are short codes and templates.
MAX_DIMENSION_CHARS = 250


class _Line(EphemeralMetrics):
    """A Powertools metric set whose writing never raises, and which writes nothing when empty (an
    invocation with no metric of its own, such as a duplicate event, is normal here)."""

    def __init__(self, namespace: str, service: str, log: Callable[..., Any]):
        super().__init__(namespace=namespace, service=service)
        self._log = log

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set:
            return
        try:
            super().flush_metrics(raise_on_empty_metrics)
        except Exception as exc:  # its invocation's outcome stands, metrics or not
            self._log("metrics not written", extra={"error": repr(exc)})
            self.clear_metrics()

    def add_cold_start_metric(self, context) -> None:
        try:
            super().add_cold_start_metric(context)
        except Exception as exc:  # a context without a function name (a test's, a local server's)
            self._log("cold start not written", extra={"error": repr(exc)})


class Meter:
    def __init__(self, service: str, logger):
        self.namespace = os.environ.get(constants.METRICS_NAMESPACE_ENV) or FALLBACK_NAMESPACE
        self.service = os.environ.get(constants.SERVICE_NAME_ENV) or service
        self._warn = logger.warning
        self.invocation = _Line(self.namespace, self.service, self._warn)

    def log_metrics(self, handler):
        """The handler, writing the invocation's line when it ends (raised or not), and the cold start."""
        return self.invocation.log_metrics(handler, capture_cold_start_metric=True)

    def record(self, metric: Metric, value: float, **dimensions: str) -> None:
        """One sample of `metric`; `dimensions` exactly its declared ones (beyond `service`)."""
        try:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{value!r} is not a finite number")  # NaN would spoil the whole line
            if set(dimensions) != set(metric.dimensions):
                raise ValueError(f"dimensions {sorted(dimensions)}, declared {sorted(metric.dimensions)}")
            if not dimensions:
                self.invocation.add_metric(name=metric.name, unit=metric.unit, value=value)
                return
            line = _Line(self.namespace, self.service, self._warn)
            for name in metric.dimensions:
                line.add_dimension(name=name, value=dimension_value(dimensions[name]))
            line.add_metric(name=metric.name, unit=metric.unit, value=value)
            line.flush_metrics()
        except Exception as exc:
            self._warn("metric not written", extra={"metric": metric.name, "error": repr(exc)})


def dimension_value(value: object) -> str:
    """A value CloudWatch takes as a dimension: a non-empty string, short."""
    text = str(value).strip()[:MAX_DIMENSION_CHARS]
    return text or "none"
