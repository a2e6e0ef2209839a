"""Presigned GET URLs that stay the same for a while, so browsers reuse cached renditions.

Renditions are content-addressed and stored `immutable`, but a browser caches by the full URL,
and a presigned URL changes every second (its X-Amz-Date and signature). Signed as if at the
start of a time window (the hour), with one constant expiry, the URL of an object is the same
all window long, and still valid for at least `min_valid_seconds` whenever it is handed out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import botocore.auth

MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # SigV4's longest presigned URL

_override = threading.local()
_install_lock = threading.Lock()


def _install_clock() -> bool:
    """Wrap botocore.auth.get_current_datetime once; False when this botocore has none.

    botocore's signers take no signing time: SigV4Auth.add_auth (and the presigned URL and
    POST signers built on it) read the clock through the module-level
    `botocore.auth.get_current_datetime()`. The wrapper answers the time set by `signing_time`
    in this thread only, and the real time everywhere else (a presigned POST signed at the same
    moment in another thread of the threaded devserver keeps its own time).
    """
    with _install_lock:
        real = getattr(botocore.auth, "get_current_datetime", None)
        if real is None:
            return False
        if getattr(real, "imagepipe_wrapper", False):
            return True

        def get_current_datetime(remove_tzinfo=True):
            fixed = getattr(_override, "when", None)
            if fixed is None:
                return real(remove_tzinfo=remove_tzinfo)
            return fixed.replace(tzinfo=None) if remove_tzinfo else fixed

        get_current_datetime.imagepipe_wrapper = True
        botocore.auth.get_current_datetime = get_current_datetime
        return True


@contextmanager
def signing_time(when: datetime) -> Iterator[bool]:
    """Within the block, botocore signs in this thread as if at `when` (a UTC datetime).

    Yields False when this botocore cannot be told (it then signs at the real time). Meant
    for presigning only, which sends nothing: a request sent under it would be refused as
    too old once `when` is more than a few minutes past.
    """
    if not _install_clock():
        yield False
        return
    previous = getattr(_override, "when", None)
    _override.when = when
    try:
        yield True
    finally:
        _override.when = previous


def utc_now() -> datetime:
    return datetime.now(UTC)


def window_start(now: datetime, window_seconds: int) -> datetime:
    """`now` rounded down to a multiple of `window_seconds` since the epoch, in UTC (naive means UTC)."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % window_seconds, UTC)


def presign_get(
    s3_client,
    params: dict,
    now: datetime | None = None,
    window_seconds: int = 3600,
    min_valid_seconds: int = 900,
) -> str:
    """The presigned GET of `params` (Bucket, Key, ...): the same URL for every `now` in one window.

    It expires `window_seconds + min_valid_seconds` after the window's start (at most 7 days),
    so it is valid for at least `min_valid_seconds` from any moment inside the window. The client
    must sign with SigV4 (handlers.clients does): SigV2 URLs carry an absolute expiry from the real clock.
    """
    if window_seconds <= 0 or min_valid_seconds < 0:
        raise ValueError("window_seconds must be positive and min_valid_seconds not negative")
    start = window_start(now or utc_now(), window_seconds)
    expires = min(window_seconds + min_valid_seconds, MAX_EXPIRES_SECONDS)
    with signing_time(start):
        return s3_client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


class StableUrls:
    """The presigned GETs of one S3 client, each signed once per window: within a window they are
    the same URL, and signing one costs ~0.5 ms (a gallery page holds nine per image). At most
    `most` URLs are kept, those of the current window only."""

    def __init__(self, s3_client, min_valid_seconds: int = 900, window_seconds: int = 3600, most: int = 10_000):
        self._client, self._min_valid, self._window, self._most = s3_client, min_valid_seconds, window_seconds, most
        self._start: datetime | None = None
        self._urls: dict[tuple, str] = {}

    def get(self, params: dict) -> str:
        start = window_start(utc_now(), self._window)
        if start != self._start or len(self._urls) >= self._most:
            self._urls, self._start = {}, start
        key = tuple(sorted(params.items()))
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = presign_get(self._client, params, start, self._window, self._min_valid)
        return url
