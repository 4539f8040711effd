"""JsonFetcher through httpx.MockTransport: retries, Retry-After, cache, error mapping."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from energy_forecast.errors import WeatherAuthError, WeatherProviderError, WeatherUnavailableError
from energy_forecast.weather.http import JsonFetcher, ResponseCache

URL = "https://weather.test/v1/forecast"
TTL = timedelta(minutes=5)


def fetcher(
    answers: list[httpx.Response | Exception], **kwargs: object
) -> tuple[JsonFetcher, list[float], list[httpx.Request]]:
    seen: list[httpx.Request] = []
    slept: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = httpx.Client(transport=httpx.MockTransport(handle))
    return JsonFetcher("test-provider", client, sleep=slept.append, **kwargs), slept, seen  # type: ignore[arg-type]


def test_a_5xx_is_retried_with_exponential_backoff() -> None:
    get, slept, seen = fetcher(
        [httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": 1})]
    )

    assert get.get_json(URL, {"a": "1"}, ttl=TTL) == {"ok": 1}
    assert slept == [0.5, 1.0] and len(seen) == 3


@pytest.mark.parametrize(
    "header, expected",
    [
        pytest.param("7", 7.0, id="delta-seconds"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="past-http-date"),
    ],
)
def test_retry_after_is_honoured(header: str, expected: float) -> None:
    get, slept, _ = fetcher(
        [httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200, json=[])]
    )

    get.get_json(URL, {}, ttl=TTL)

    assert slept == [expected]


def test_a_retry_after_longer_than_max_wait_gives_up_at_once() -> None:
    get, slept, _ = fetcher(
        [httpx.Response(429, headers={"Retry-After": "3600"}, json={"message": "slow down"})]
    )

    with pytest.raises(WeatherUnavailableError, match=r"rate limited.*slow down"):
        get.get_json(URL, {}, ttl=TTL)

    assert slept == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_an_auth_error_with_the_hint_and_no_secret(status: int) -> None:
    get, _, seen = fetcher(
        [httpx.Response(status, json={"cod": status, "message": "Invalid API key s3cret"})],
        secrets=["s3cret"],
        auth_hint="check the API key",
    )

    with pytest.raises(WeatherAuthError) as caught:
        get.get_json(URL, {"appid": "s3cret"}, ttl=TTL)

    assert caught.value.provider == "test-provider" and len(seen) == 1
    assert "check the API key" in caught.value.message and "s3cret" not in caught.value.message


def test_network_errors_and_timeouts_are_unavailable_without_retry() -> None:
    get, slept, seen = fetcher([httpx.ConnectError("name resolution failed"), httpx.ReadTimeout("slow")])

    with pytest.raises(WeatherUnavailableError, match=r"cannot reach weather\.test"):
        get.get_json(URL, {}, ttl=TTL)
    with pytest.raises(WeatherUnavailableError, match="did not answer in time"):
        get.get_json(URL, {}, ttl=TTL)

    assert slept == [] and len(seen) == 2


def test_other_4xx_and_non_json_bodies_are_provider_errors() -> None:
    get, _, _ = fetcher(
        [httpx.Response(400, json={"error": True, "reason": "bad date"}), httpx.Response(200, text="<html>")]
    )

    with pytest.raises(WeatherProviderError, match=r"HTTP 400.*bad date"):
        get.get_json(URL, {}, ttl=TTL)
    with pytest.raises(WeatherProviderError, match="not JSON"):
        get.get_json(URL, {}, ttl=TTL)


def test_answers_are_cached_per_url_and_parameters_until_they_expire() -> None:
    clock = [0.0]
    cache = ResponseCache(clock=lambda: clock[0])
    get, _, seen = fetcher([httpx.Response(200, json={"n": i}) for i in range(3)], cache=cache)

    first = get.get_json(URL, {"b": "2", "a": "1"}, ttl=TTL)
    again = get.get_json(URL, {"a": "1", "b": "2"}, ttl=TTL)
    other = get.get_json(URL, {"a": "9"}, ttl=TTL)
    clock[0] += TTL.total_seconds() + 1
    expired = get.get_json(URL, {"a": "1", "b": "2"}, ttl=TTL)

    assert (first, again, other, expired) == ({"n": 0}, {"n": 0}, {"n": 1}, {"n": 2})
    assert len(seen) == 3
