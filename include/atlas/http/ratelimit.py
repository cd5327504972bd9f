"""Request pacing and retry timing: a token bucket shared by every request of a run, and backoff.

Both take their clock and sleep as arguments so that the one object serves every request of a run
(pages, retries, token fetches) and tests can use small real delays.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from atlas.models import RateLimit


class TokenBucket:
    """``rate`` requests per second on average, at most ``burst`` back to back."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; return the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            # A negative balance is a debt: the caller waits it off, so the next caller sees it paid.
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait


class RateLimiter:
    """Every bucket of a connector's :class:`~atlas.models.RateLimit` (per second and per minute)."""

    def __init__(self, buckets: list[TokenBucket]):
        self.buckets = buckets

    @classmethod
    def from_config(cls, config: RateLimit, **clock: Callable) -> RateLimiter:
        buckets = []
        if config.requests_per_second:
            buckets.append(TokenBucket(config.requests_per_second, config.burst, **clock))
        if config.requests_per_minute:
            buckets.append(TokenBucket(config.requests_per_minute / 60, config.burst, **clock))
        return cls(buckets)

    def acquire(self) -> float:
        return sum(bucket.acquire() for bucket in self.buckets)


def parse_retry_after(value: str | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; ``Retry-After`` wins when the server sends it."""

    max_retries: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff_seconds)
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (retry - 1))
        # Full jitter (half fixed, half random) spreads the retries of parallel runs apart.
        return ceiling / 2 + random.uniform(0, ceiling / 2)
