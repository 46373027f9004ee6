"""The token bucket (web/ratelimit.py) with an injected clock: refill, Retry-After, bounded memory."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.requests import Request

from personalization.settings import Settings
from web.ratelimit import RateLimiter, RateLimits, check, client_ip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_then_refuses_with_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=0.5, burst=3, clock=clock)
    assert [limiter.hit("k").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.hit("k")
    assert not refused.allowed and refused.retry_after_s == 2  # one token per 2 s


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter.per_minute(60, clock=clock)  # 1 a second, bursts of 60
    for _ in range(60):
        assert limiter.hit("k").allowed
    assert not limiter.hit("k").allowed
    clock.now += 1.0
    assert limiter.hit("k").allowed and not limiter.hit("k").allowed
    clock.now += 10_000  # a long pause refills to the burst, not beyond
    assert sum(limiter.hit("k").allowed for _ in range(100)) == 60


def test_keys_are_counted_apart() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=Clock())
    assert limiter.hit("member:M1").allowed
    assert not limiter.hit("member:M1").allowed
    assert limiter.hit("member:M2").allowed


def test_memory_is_bounded_by_evicting_the_least_recently_used_key() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=1, max_keys=100, clock=clock)
    limiter.hit("busy")
    for i in range(1000):
        limiter.hit(f"ip:{i}")
        if i % 10 == 0:
            assert not limiter.hit("busy").allowed  # recently used: kept, still empty
    assert len(limiter) == 100
    assert limiter.hit("ip:999").allowed is False  # the newest keys are the ones kept
    assert limiter.hit("ip:0").allowed  # evicted long ago: starts full again


def test_a_clock_going_backwards_does_not_mint_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=clock)
    assert limiter.hit("k").allowed
    clock.now -= 500
    assert not limiter.hit("k").allowed


@pytest.mark.parametrize("kwargs", [{"rate_per_s": 0, "burst": 1}, {"rate_per_s": 1, "burst": 0},
                                    {"rate_per_s": 1, "burst": 1, "max_keys": 0}])
def test_nonsense_limits_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_limits_come_from_settings_and_can_be_switched_off() -> None:
    limits = RateLimits.from_settings(replace(Settings(), web_rate_messages_per_min=12, web_rate_logins_per_min=0))
    assert limits.messages_per_member is not None and limits.messages_per_member.burst == 12
    assert limits.logins_per_ip is None and check(limits.logins_per_ip, "x").allowed
    off = RateLimits.from_settings(replace(Settings(), web_rate_limits=False))
    assert (off.api_per_ip, off.messages_per_member, off.tokens_per_ip, off.logins_per_ip) == (None, None, None, None)


def test_settings_read_the_hardening_variables_from_the_environment() -> None:
    settings = Settings.from_env({"WEB_MAX_BODY_KB": "8", "WEB_RATE_LIMITS": "0", "WEB_RATE_MESSAGES_PER_MIN": "5",
                                  "WEB_SECURE_COOKIES": "1", "WEB_TRUSTED_PROXY": "yes",
                                  "WEB_MEMBER_TOKEN_TTL_S": "99999999"})
    assert settings.web_max_body_kb == 8 and not settings.web_rate_limits
    assert settings.web_rate_messages_per_min == 5
    assert settings.web_secure_cookies and settings.web_trusted_proxy
    assert settings.web_member_token_ttl_s == 7 * 86400  # bounded
    defaults = Settings.from_env({})
    assert defaults.web_rate_limits and not defaults.web_secure_cookies and not defaults.web_trusted_proxy


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234),
                    "query_string": b""})


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    spoofed = _request("203.0.113.9", "1.1.1.1")
    assert client_ip(spoofed, trusted_proxy=False) == "203.0.113.9"  # a client cannot pick its own key
    proxied = _request("127.0.0.1", "1.1.1.1, 198.51.100.7")
    assert client_ip(proxied, trusted_proxy=True) == "198.51.100.7"  # the hop the proxy appended
    assert client_ip(_request("127.0.0.1", None), trusted_proxy=True) == "127.0.0.1"
