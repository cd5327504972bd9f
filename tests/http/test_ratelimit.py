"""Token bucket, Retry-After parsing and backoff: arithmetic checked with a controlled clock.

Real request spacing is measured on a real server in test_client.py and the REST source tests.
"""

from __future__ import annotations

from datetime import UTC, datetime

from atlas.http.ratelimit import RateLimiter, RetryPolicy, TokenBucket, parse_retry_after
from atlas.models import RateLimit


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_spaces_requests_after_the_burst():
    clock = Clock()
    bucket = TokenBucket(4, burst=2, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:2] == [0, 0]
    assert all(abs(w - 0.25) < 1e-9 for w in waits[2:])
    clock.now += 10  # idle time refills only up to the burst
    assert [bucket.acquire() for _ in range(3)][:2] == [0, 0] and clock.slept[-1] == 0.25


def test_rate_limiter_applies_every_bucket():
    clock = Clock()
    limiter = RateLimiter.from_config(RateLimit(requests_per_second=10, requests_per_minute=60),
                                      clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(4):
        limiter.acquire()
    assert abs((clock.now - start) - 3.0) < 1e-9  # the per-minute bucket (1/s) is the tighter one
    assert RateLimiter.from_config(RateLimit()).acquire() == 0


def test_parse_retry_after():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=lambda: now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_grows_is_jittered_and_capped():
    policy = RetryPolicy(max_retries=10, backoff_seconds=1, max_backoff_seconds=8)
    for retry, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        delays = {policy.delay(retry) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1
    assert policy.delay(1, retry_after=3) == 3 and policy.delay(1, retry_after=300) == 8
