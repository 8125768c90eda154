"""Pure rules: Retry-After parsing, which failures are transient, and URL redaction."""

from __future__ import annotations

from email.utils import formatdate

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rorsync.transport import HttpStatusError, parse_retry_after, safe_url
from rorsync.transport.retry import is_transient

NOW = 1_800_000_000.0


@given(st.integers(min_value=0, max_value=10**9))
def test_retry_after_seconds_are_taken_as_is(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == seconds


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_retry_after_dates_give_the_remaining_time_never_negative(offset: int) -> None:
    assert parse_retry_after(formatdate(NOW + offset, usegmt=True), NOW) == max(0, offset)


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_an_unusable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (501, False),
    ],
)
def test_only_overload_and_gateway_statuses_are_transient(code: int, transient: bool) -> None:
    assert is_transient(HttpStatusError("GET", "https://ror.example/x", code, "", "")) is transient


def test_connection_problems_are_transient_but_tls_problems_are_not() -> None:
    assert is_transient(aiohttp.ServerDisconnectedError())
    assert is_transient(aiohttp.ClientPayloadError("Response payload is not completed"))
    assert is_transient(TimeoutError())
    assert not is_transient(aiohttp.ClientSSLError(None, OSError("handshake failure")))  # type: ignore[arg-type]
    assert not is_transient(ValueError("a bug"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.ror/fhir/Location?_lastUpdated=ge2026-01-01&_count=200",
            "https://api.ror/fhir/Location?_lastUpdated=ge2026-01-01&_count=200",
        ),
        (
            "https://files.ror/x.json?X-Amz-Signature=abc&X-Amz-Credential=def&X-Amz-Date=20260101",
            "https://files.ror/x.json?X-Amz-Signature=***&X-Amz-Credential=***&X-Amz-Date=20260101",
        ),
        ("https://blob.ror/x.json?sv=2024&sig=abc%2Bdef", "https://blob.ror/x.json?sv=2024&sig=***"),
        (
            "https://user:pa55@api.ror/fhir?access_token=t0k3n&client_secret=s",
            "https://api.ror/fhir?access_token=***&client_secret=***",
        ),
    ],
)
def test_safe_url_hides_credentials_and_secret_parameters(url: str, expected: str) -> None:
    assert safe_url(url) == expected
