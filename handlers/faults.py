"""Fault injection by configuration, for proving recovery end to end (FAULT_INJECTION).

Off unless set. `rendition_put_once`: the first rendition upload in each execution
environment fails, as a throttled or unreachable S3 would; everything after it works.
"""
from __future__ import annotations

import threading


class InjectedFault(ConnectionError):
    pass


class FailFirstPut:
    """An S3 client whose first put_object raises; every other call passes through."""

    def __init__(self, s3):
        self._s3 = s3
        self._lock = threading.Lock()
        self._failed = False

    def put_object(self, **kwargs):
        with self._lock:
            first, self._failed = not self._failed, True
        if first:
            raise InjectedFault("injected fault (FAULT_INJECTION=rendition_put_once): S3 put_object failed")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def wrap_s3(s3, fault: str | None):
    if not fault:
        return s3
    if fault == "rendition_put_once":
        return FailFirstPut(s3)
    raise ValueError(f"unknown FAULT_INJECTION {fault!r}")
