"""handlers/quotas.py on moto: the daily count, stored bytes, a new day, refunds."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.errors import QuotaExceeded
from handlers.quotas import Quota, Quotas, next_utc_midnight

DAY = date(2026, 11, 28)


@pytest.fixture
def quotas(aws_env):
    settings, clients = aws_env
    return Quotas(clients.dynamodb, settings.table_name, Quota(uploads_per_day=3, bytes=1000))


def test_the_daily_count_stops_at_the_quota_and_starts_again_the_next_day(quotas):
    for _ in range(3):
        quotas.charge("u", 10, DAY)
    with pytest.raises(QuotaExceeded) as refused:
        quotas.charge("u", 10, DAY)
    assert refused.value.resets_at == "2026-11-29T00:00:00Z" == next_utc_midnight(DAY)
    quotas.charge("u", 10, date(2026, 11, 29))  # a new UTC day
    quotas.charge("other", 10, DAY)  # per person


def test_stored_bytes_carry_over_days_and_refunds_free_them(quotas):
    quotas.charge("u", 600, DAY)
    with pytest.raises(QuotaExceeded) as refused:
        quotas.charge("u", 500, date(2026, 11, 29))  # the day's first upload, but no room
    assert refused.value.resets_at is None and "600 used" in refused.value.message
    quotas.charge("u", 400, date(2026, 11, 29))  # exactly full
    quotas.refund("u", 600)
    quotas.charge("u", 600, date(2026, 11, 29))


def test_a_quota_of_nothing_refuses_at_once(aws_env):
    settings, clients = aws_env
    with pytest.raises(QuotaExceeded):
        Quotas(clients.dynamodb, settings.table_name, Quota(uploads_per_day=0, bytes=10)).charge("u", 1, DAY)


def test_a_day_started_by_another_request_meanwhile_is_counted_once(quotas, monkeypatch):
    """Two first-of-the-day requests: the second finds the day started and counts within it."""
    real = quotas._update
    calls = []

    def racing(owner, expression, condition, values):
        calls.append(expression.split(",")[0])
        if len(calls) == 2:  # just before this request starts the day, another one does
            real(
                owner, "SET #day = :today, dayUploads = :one, storedBytes = :size", "attribute_not_exists(#day)", values
            )
        return real(owner, expression, condition, values)

    monkeypatch.setattr(quotas, "_update", racing)
    quotas.charge("u", 10, DAY)
    assert len(calls) == 3  # same day (no item), new day (lost the race), same day (counted)
    monkeypatch.setattr(quotas, "_update", real)
    quotas.charge("u", 10, DAY)
    with pytest.raises(QuotaExceeded):
        quotas.charge("u", 10, DAY)  # 1 (the other request) + 2: the quota of 3 is used


def test_a_refund_never_takes_the_counter_below_zero(quotas):
    """Found in review: deleting images rebuilt from S3 after the counter was lost refunded bytes
    never charged, and a negative counter is a quota that no longer holds."""
    quotas.charge("u", 100, DAY)
    quotas.refund("u", 700)
    quotas.charge("u", 1000, DAY)  # exactly the quota: the counter was 0, not -600
    with pytest.raises(QuotaExceeded):
        quotas.charge("u", 1, DAY)
