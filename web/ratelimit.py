"""In-process token-bucket rate limits (per member, per IP), with bounded memory.

Each key (``"ip:1.2.3.4"``, ``"member:M100001"``, ...) has a bucket of ``burst`` tokens that
refills at ``rate_per_s``; a request takes one token or is refused with the seconds until one
is back (``Retry-After``). At most ``max_keys`` buckets are kept: the least recently used is
evicted first, which is harmless for a full bucket (a new key starts full) and, under a flood of
fresh keys, errs on the side of letting a request through rather than growing without bound.

The limits live in one web process: with several replicas (the distributed deployment runs two
behind nginx) every replica counts on its own, so the effective limit is the per-replica limit
times the number of replicas a client's requests spread over.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from personalization.settings import Settings

Clock = Callable[[], float]


@dataclass(frozen=True)
class Decision:
    """The answer for one request: allowed, and if not, whole seconds to wait (>= 1)."""

    allowed: bool
    retry_after_s: int = 0
    remaining: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by key: ``burst`` tokens, refilled at ``rate_per_s``; at most ``max_keys`` kept."""

    def __init__(self, *, rate_per_s: float, burst: int, max_keys: int = 10_000, clock: Clock = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate_per_s and burst must be positive, max_keys at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._mutex = threading.Lock()

    @classmethod
    def per_minute(cls, count: int, *, max_keys: int = 10_000, clock: Clock = time.monotonic) -> "RateLimiter":
        """``count`` requests a minute, in bursts of up to ``count``."""
        return cls(rate_per_s=count / 60.0, burst=count, max_keys=max_keys, clock=clock)

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str, cost: float = 1.0) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket if it has them."""
        now = self._clock()
        with self._mutex:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(tokens=float(self.burst), updated=now)
                self._buckets[key] = bucket
                while len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
                bucket.updated = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return Decision(True, 0, bucket.tokens)
            wait = (cost - bucket.tokens) / self.rate_per_s
            return Decision(False, max(1, math.ceil(wait)), bucket.tokens)


@dataclass
class RateLimits:
    """The web app's limits (``Settings.web_rate_*``); ``None`` where switched off."""

    api_per_ip: RateLimiter | None
    messages_per_member: RateLimiter | None
    tokens_per_ip: RateLimiter | None
    logins_per_ip: RateLimiter | None

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> "RateLimits":
        def make(count: int) -> RateLimiter | None:
            if not settings.web_rate_limits or count <= 0:
                return None
            return RateLimiter.per_minute(count, clock=clock)

        return cls(
            api_per_ip=make(settings.web_rate_api_per_min),
            messages_per_member=make(settings.web_rate_messages_per_min),
            tokens_per_ip=make(settings.web_rate_tokens_per_min),
            logins_per_ip=make(settings.web_rate_logins_per_min),
        )


def check(limiter: RateLimiter | None, key: str) -> Decision:
    """``limiter.hit(key)``, or allowed when that limit is off."""
    return Decision(True) if limiter is None else limiter.hit(key)


def get_limits(conn: HTTPConnection) -> RateLimits:
    """The :class:`RateLimits` of the app serving this request or socket."""
    return conn.app.state.rate_limits  # type: ignore[no-any-return]


def client_ip(conn: HTTPConnection, *, trusted_proxy: bool) -> str:
    """The client's address: the peer's, or behind a trusted proxy the last ``X-Forwarded-For`` hop.

    ``X-Forwarded-For`` is honoured only with ``trusted_proxy`` (``Settings.web_trusted_proxy``):
    otherwise any client could name itself a fresh address per request and never be limited.
    The last entry is the one the proxy itself appended (earlier ones are the client's say-so).
    """
    if trusted_proxy:
        forwarded = conn.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return conn.client.host if conn.client else "unknown"
