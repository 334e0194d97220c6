"""Rate limits: per token, a rolling 2-second window, headers on every /v1 answer and 429 past the limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from connexion import AsyncApp
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.control.ratelimit import RateLimiter, RateLimitMiddleware
from mock_server.errors import Invalid
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings
from tests.conftest import assert_error

HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def now() -> FakeTime:
    return FakeTime()


def burst(limiter: RateLimiter, token: str, count: int) -> list[tuple[bool, dict[str, str]]]:
    return [limiter.take(token) for _ in range(count)]


# The limiter


def test_burst_up_to_the_limit_is_allowed(now: FakeTime) -> None:
    limiter = RateLimiter(3, now=now)
    assert [allowed for allowed, _ in burst(limiter, "t", 3)] == [True, True, True]


def test_request_past_the_limit_is_refused(now: FakeTime) -> None:
    limiter = RateLimiter(3, now=now)
    burst(limiter, "t", 3)
    allowed, headers = limiter.take("t")
    assert not allowed
    assert headers["x-ratelimit-remaining"] == "0"


def test_headers_give_limit_and_count_down_remaining(now: FakeTime) -> None:
    limiter = RateLimiter(3, now=now)
    results = burst(limiter, "t", 3)
    assert [headers["x-ratelimit-limit"] for _, headers in results] == ["3", "3", "3"]
    assert [headers["x-ratelimit-remaining"] for _, headers in results] == ["2", "1", "0"]


def test_reset_is_whole_seconds_until_the_oldest_request_leaves_the_window(now: FakeTime) -> None:
    limiter = RateLimiter(3, now=now)
    assert limiter.take("t")[1]["x-ratelimit-reset"] == "2"
    now.seconds += 0.5
    assert limiter.take("t")[1]["x-ratelimit-reset"] == "2"  # 1.5 s left, rounded up
    now.seconds += 0.9
    assert limiter.take("t")[1]["x-ratelimit-reset"] == "1"  # 0.6 s left


def test_exhausted_window_reports_reset_of_at_least_one_second(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.take("t")
    now.seconds += 1.999
    allowed, headers = limiter.take("t")
    assert not allowed
    assert headers["x-ratelimit-reset"] == "1"


def test_window_frees_a_slot_two_seconds_after_a_request(now: FakeTime) -> None:
    limiter = RateLimiter(2, now=now)
    limiter.take("t")
    now.seconds += 1.0
    limiter.take("t")
    now.seconds += 1.0  # the first request has left the window, the second has not
    assert limiter.take("t") == (
        True,
        {"x-ratelimit-limit": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"},
    )
    assert limiter.take("t")[0] is False


def test_refused_requests_do_not_keep_the_window_closed(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.take("t")
    for _ in range(4):
        now.seconds += 0.25
        limiter.take("t")
    now.seconds += 1.0
    assert limiter.take("t")[0] is True


def test_tokens_have_separate_windows(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.take("a")
    allowed, headers = limiter.take("b")
    assert allowed
    assert headers["x-ratelimit-remaining"] == "0"


def test_per_token_limit_overrides_the_default(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.set_limit(3, token="big")
    assert [allowed for allowed, _ in burst(limiter, "big", 4)] == [True, True, True, False]
    assert [allowed for allowed, _ in burst(limiter, "other", 2)] == [True, False]


def test_per_token_limit_applies_when_the_default_is_off(now: FakeTime) -> None:
    limiter = RateLimiter(0, now=now)
    limiter.set_limit(1, token="t")
    assert [allowed for allowed, _ in burst(limiter, "t", 2)] == [True, False]


def test_per_token_zero_turns_limiting_off_for_that_token(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.set_limit(0, token="free")
    assert burst(limiter, "free", 5) == [(True, {})] * 5


def test_zero_default_is_off_without_headers(now: FakeTime) -> None:
    limiter = RateLimiter(now=now)
    assert burst(limiter, "t", 50) == [(True, {})] * 50


def test_set_default_limit_applies_to_every_token(now: FakeTime) -> None:
    limiter = RateLimiter(now=now)
    limiter.set_limit(1)
    assert [allowed for allowed, _ in burst(limiter, "t", 2)] == [True, False]


def test_limits_lists_the_default_and_per_token_limits() -> None:
    limiter = RateLimiter(5)
    limiter.set_limit(9, token="t")
    assert limiter.limits() == {"default": 5, "tokens": {mask_token("t"): 9}}


def test_reset_forgets_counts_overrides_and_a_changed_default(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.take("t")
    limiter.set_limit(7)
    limiter.set_limit(3, token="u")
    limiter.reset()
    assert limiter.limits() == {"default": 1, "tokens": {}}
    assert limiter.take("t")[0] is True


def test_reset_of_one_token_leaves_the_others(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    limiter.take("a")
    limiter.take("b")
    limiter.reset("a")
    assert limiter.take("a")[0] is True
    assert limiter.take("b")[0] is False


@pytest.mark.parametrize("limit", [-1, 1.5, True, "3"])
def test_a_limit_that_is_not_a_whole_number_of_0_or_more_is_refused(limit: object) -> None:
    with pytest.raises(Invalid, match="'limit' must be a whole number of requests, 0 or more"):
        RateLimiter().set_limit(limit)


def test_idle_windows_are_swept_when_many_tokens_are_remembered(now: FakeTime) -> None:
    limiter = RateLimiter(1, now=now)
    for number in range(1024):
        limiter.take(f"t{number}")
    now.seconds += 3
    limiter.take("new")
    assert len(limiter._logs) == 1


# The middleware, around the app


@pytest.fixture(scope="module")
def app() -> AsyncApp:
    return create_app(Settings())


@pytest.fixture
def limited(app: AsyncApp, now: FakeTime) -> Iterator[tuple[TestClient, RateLimiter]]:
    limiter = RateLimiter(5, now=now)
    with TestClient(RateLimitMiddleware(app, limiter)) as client:
        yield client, limiter


def test_burst_past_the_limit_gets_exactly_the_excess_as_429(limited: tuple[TestClient, RateLimiter]) -> None:
    client, _ = limited
    statuses = [client.get("/v1/currencies", headers={"x-api-token": "burst"}).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3


def test_429_is_in_the_error_envelope_with_retry_after(limited: tuple[TestClient, RateLimiter]) -> None:
    client, _ = limited
    for _ in range(5):
        client.get("/v1/currencies", headers={"x-api-token": "t"})
    response = client.get("/v1/currencies", headers={"x-api-token": "t"})
    body = assert_error(response, 429, "Request over limit", "5 requests per 2 seconds")
    assert body["errorCode"] == 429
    assert response.headers["retry-after"] == "2"


def test_every_answer_carries_integer_rate_limit_headers(limited: tuple[TestClient, RateLimiter]) -> None:
    client, _ = limited
    responses = [client.get("/v1/deals/999999", params={"api_token": "h"}) for _ in range(7)]
    assert [response.status_code for response in responses] == [404] * 5 + [429] * 2
    for response in responses:
        limit, remaining, reset = (int(response.headers[name]) for name in HEADERS)
        assert limit == 5
        assert 0 <= remaining <= limit
        assert 0 <= reset <= 2
    assert [response.headers["x-ratelimit-remaining"] for response in responses] == ["4", "3", "2", "1", "0", "0", "0"]


def test_different_tokens_have_separate_windows(limited: tuple[TestClient, RateLimiter]) -> None:
    client, _ = limited
    for _ in range(6):
        client.get("/v1/currencies", headers={"x-api-token": "first"})
    response = client.get("/v1/currencies", headers={"Authorization": "Bearer second"})
    assert response.status_code == 200
    assert response.headers["x-ratelimit-remaining"] == "4"


def test_window_opens_again_after_two_seconds(limited: tuple[TestClient, RateLimiter], now: FakeTime) -> None:
    client, _ = limited
    for _ in range(6):
        client.get("/v1/currencies", headers={"x-api-token": "later"})
    now.seconds += 2
    assert client.get("/v1/currencies", headers={"x-api-token": "later"}).status_code == 200


def test_per_token_limit_set_on_the_limiter_applies_to_requests(limited: tuple[TestClient, RateLimiter]) -> None:
    client, limiter = limited
    limiter.set_limit(1, token="small")
    statuses = [client.get("/v1/currencies", headers={"x-api-token": "small"}).status_code for _ in range(2)]
    assert statuses == [200, 429]


def test_request_without_token_is_not_counted(limited: tuple[TestClient, RateLimiter]) -> None:
    client, _ = limited
    responses = [client.get("/v1/currencies") for _ in range(7)]
    assert [response.status_code for response in responses] == [401] * 7
    assert "x-ratelimit-limit" not in responses[0].headers


def test_paths_outside_v1_are_not_limited(limited: tuple[TestClient, RateLimiter]) -> None:
    client, _ = limited
    responses = [client.get("/__mock__/health", headers={"x-api-token": "t"}) for _ in range(7)]
    assert [response.status_code for response in responses] == [200] * 7
    assert "x-ratelimit-limit" not in responses[0].headers


def test_limit_off_adds_no_headers(app: AsyncApp) -> None:
    with TestClient(RateLimitMiddleware(app)) as client:
        response = client.get("/v1/currencies", headers={"x-api-token": "t"})
    assert response.status_code == 200
    assert not any(name in response.headers for name in HEADERS)
