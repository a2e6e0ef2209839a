"""Stable presigned GETs: one URL per object per window, signed with a real botocore client
(dummy credentials, nothing is sent), and the signing time overridden in one thread only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.exceptions import ParamValidationError

from handlers.clients import make_clients
from handlers.config import Settings
from handlers.signing import MAX_EXPIRES_SECONDS, presign_get, signing_time

PARAMS = {"Bucket": "imagepipe-processed", "Key": "abc/etag/thumbnail.webp"}
HOUR = datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC)
SIGV4_TIME = "%Y%m%dT%H%M%SZ"
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.fixture
def s3():
    """The client that signs browsers' URLs, from the project's factory (SigV4: a default boto3 S3
    client presigns with SigV2, whose absolute Expires no signing time can pin)."""
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    return make_clients(Settings(endpoint_url="http://127.0.0.1:4566"), session).s3_public


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def signed_at(url: str) -> datetime:
    return datetime.strptime(query(url)["X-Amz-Date"], SIGV4_TIME).replace(tzinfo=UTC)


def test_same_url_for_two_moments_in_one_window(s3):
    first = presign_get(s3, PARAMS, now=HOUR + timedelta(minutes=1))
    later = presign_get(s3, PARAMS, now=HOUR + timedelta(minutes=59, seconds=59))
    assert first == later


def test_another_url_in_the_next_window(s3):
    assert presign_get(s3, PARAMS, now=HOUR + timedelta(minutes=59)) != presign_get(
        s3, PARAMS, now=HOUR + timedelta(minutes=61)
    )


def test_signed_at_the_window_start(s3):
    url = presign_get(s3, PARAMS, now=HOUR + timedelta(minutes=42, seconds=7, microseconds=5))
    assert query(url)["X-Amz-Date"] == "20240501T130000Z"
    # A naive `now` is UTC; an aware one in another zone is converted (17:30+02:00 is 15:30 UTC).
    three_pm = datetime(2024, 5, 1, 15, tzinfo=UTC)
    assert signed_at(presign_get(s3, PARAMS, now=datetime(2024, 5, 1, 15, 30))) == three_pm
    assert signed_at(presign_get(s3, PARAMS, now=datetime(2024, 5, 1, 17, 30, tzinfo=PLUS_TWO))) == three_pm
    assert signed_at(presign_get(s3, PARAMS, now=HOUR, window_seconds=86400)) == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize("offset", [0, 1, 900, 1800, 3599])
def test_valid_for_at_least_min_valid_from_any_moment_in_the_window(s3, offset):
    url = presign_get(s3, PARAMS, now=HOUR + timedelta(seconds=offset), min_valid_seconds=600)
    valid_until = signed_at(url) + timedelta(seconds=int(query(url)["X-Amz-Expires"]))
    assert valid_until >= HOUR + timedelta(seconds=offset + 600)


def test_expiry_capped_at_seven_days(s3):
    url = presign_get(s3, PARAMS, now=HOUR, window_seconds=6 * 86400, min_valid_seconds=2 * 86400)
    assert int(query(url)["X-Amz-Expires"]) == MAX_EXPIRES_SECONDS == 604800


def test_default_now_is_the_current_window(s3):
    before = datetime.now(UTC)
    start = signed_at(presign_get(s3, PARAMS))
    assert start <= before and before - start < timedelta(hours=1, seconds=1)
    assert start.minute == start.second == 0


def test_another_thread_signs_at_the_real_time_meanwhile(s3):
    """A presigned POST or GET signed in another thread while the override is set keeps the real time."""
    override_set, other_signed = threading.Event(), threading.Event()
    seen: dict[str, datetime] = {}

    def other_thread():
        assert override_set.wait(10)
        seen["other"] = signed_at(s3.generate_presigned_url("get_object", Params=PARAMS, ExpiresIn=60))
        other_signed.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with signing_time(HOUR):
        override_set.set()
        assert other_signed.wait(10)
        seen["this"] = signed_at(s3.generate_presigned_url("get_object", Params=PARAMS, ExpiresIn=60))
    worker.join(10)
    assert seen["this"] == HOUR
    assert abs(seen["other"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_override_cleared_after_an_exception(s3):
    with pytest.raises(ParamValidationError):
        presign_get(s3, {"Key": "no-bucket"}, now=HOUR)  # raises inside the override
    with pytest.raises(RuntimeError), signing_time(HOUR):
        raise RuntimeError("boom")
    assert abs(botocore.auth.get_current_datetime() - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)
    assert abs(signed_at(s3.generate_presigned_url("get_object", Params=PARAMS)) - datetime.now(UTC)) < timedelta(
        minutes=1
    )


def test_clock_wrapper_keeps_botocore_s_signature():
    with signing_time(HOUR):
        assert botocore.auth.get_current_datetime() == HOUR.replace(tzinfo=None)
        assert botocore.auth.get_current_datetime(remove_tzinfo=False) == HOUR
    assert botocore.auth.get_current_datetime(remove_tzinfo=False).tzinfo is not None
    assert botocore.auth.get_current_datetime().tzinfo is None


def test_installed_once():
    with signing_time(HOUR):
        wrapper = botocore.auth.get_current_datetime
    with signing_time(HOUR):
        assert botocore.auth.get_current_datetime is wrapper


def test_stable_urls_sign_each_url_once_per_window(s3, monkeypatch):
    from handlers import signing
    from handlers.signing import StableUrls

    clock = [datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC)]
    monkeypatch.setattr(signing, "utc_now", lambda: clock[0])
    client = s3
    signed = []
    real = client.generate_presigned_url
    monkeypatch.setattr(client, "generate_presigned_url", lambda *a, **k: signed.append(k) or real(*a, **k))
    urls = StableUrls(client, min_valid_seconds=900, most=2)
    first = urls.get(PARAMS)
    clock[0] = datetime(2026, 11, 28, 9, 59, 59, tzinfo=UTC)
    assert urls.get(PARAMS) == first and len(signed) == 1  # the same URL, signed once
    assert first == presign_get(client, PARAMS, now=clock[0])  # what signing it again would give
    clock[0] = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    assert urls.get(PARAMS) != first and len(signed) == 3  # a new window: signed anew
    for n in range(3):  # bounded: at most `most` kept
        urls.get(PARAMS | {"Key": f"other-{n}"})
    assert len(urls._urls) <= 2
