"""Fault injection by configuration, for proving recovery end to end (FAULT_INJECTION).

Off unless set. The processor asks for its S3 client through `rendition_store`:
- `rendition_put_once`: the first attempt at an object fails its first rendition upload,
  as a throttled or unreachable S3 would; a retry (the record remembers the failure, since
  a failed execution environment may be replaced by a fresh one) works;
- `rendition_put_always`: every rendition upload fails, so retries run out and the event
  lands in the dead-letter queue.
"""

from __future__ import annotations

import threading


class InjectedFault(ConnectionError):
    pass


class FailingPuts:
    """An S3 client whose first `count` put_object calls raise; everything else passes through."""

    def __init__(self, s3, count: float, name: str):
        self._s3, self._left, self._name = s3, count, name
        self._lock = threading.Lock()

    def put_object(self, **kwargs):
        with self._lock:
            fail = self._left > 0
            self._left -= 1
        if fail:
            raise InjectedFault(f"injected fault (FAULT_INJECTION={self._name}): S3 put_object failed")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def rendition_store(s3, fault: str | None, retry: bool):
    """The S3 client to write renditions with; `retry` says an earlier attempt failed."""
    if not fault:
        return s3
    if fault == "rendition_put_once":
        return s3 if retry else FailingPuts(s3, 1, fault)
    if fault == "rendition_put_always":
        return FailingPuts(s3, float("inf"), fault)
    raise ValueError(f"unknown FAULT_INJECTION {fault!r}")
