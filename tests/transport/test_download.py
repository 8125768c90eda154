"""Downloads stream to disk, land atomically, and restart from zero on a retry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web

from rorsync.config import TlsSettings
from rorsync.transport import HttpClient, HttpStatusError, RetriesExhausted
from tests.transport.conftest import FakeTime, Serve, http_settings, partial_body, scripted, status

CONTENT = os.urandom(3 * 1024 * 1024 + 17)


async def send_content(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/fhir+json"})
    response.content_length = len(CONTENT)
    await response.prepare(request)
    for start in range(0, len(CONTENT), 100_000):
        await response.write(CONTENT[start : start + 100_000])
    await response.write_eof()
    return response


def client(fake_time: FakeTime) -> HttpClient:
    return HttpClient("fhir", http_settings(), TlsSettings(), sleep=fake_time.sleep, clock=fake_time.clock)


async def test_a_download_streams_the_whole_body_to_the_destination(
    serve: Serve, fake_time: FakeTime, tmp_path: Path
) -> None:
    app, _ = scripted(send_content)
    destination = tmp_path / "HealthcareService-1.json"
    async with client(fake_time) as http:
        download = await http.download(await serve(app) + "/export/1", destination)
    assert download.path == destination
    assert download.size == len(CONTENT)
    assert download.headers["Content-Type"] == "application/fhir+json"
    assert destination.read_bytes() == CONTENT
    assert os.listdir(tmp_path) == [destination.name]


async def test_a_failed_download_leaves_no_partial_file_and_the_old_one_intact(
    serve: Serve, fake_time: FakeTime, tmp_path: Path
) -> None:
    destination = tmp_path / "part.json"
    destination.write_bytes(b"previous complete file")
    app, seen = scripted(partial_body(len(CONTENT), 200_000, reset=False))
    async with client(fake_time) as http:
        with pytest.raises(RetriesExhausted) as raised:
            await http.download(await serve(app), destination)
    assert raised.value.attempts == 3
    assert len(seen) == 3
    assert destination.read_bytes() == b"previous complete file"
    assert os.listdir(tmp_path) == [destination.name]


async def test_a_retried_download_starts_again_from_zero(serve: Serve, fake_time: FakeTime, tmp_path: Path) -> None:
    app, seen = scripted(partial_body(len(CONTENT), 1_500_000, reset=True), send_content)
    destination = tmp_path / "part.json"
    async with client(fake_time) as http:
        download = await http.download(await serve(app), destination)
    assert destination.read_bytes() == CONTENT
    assert download.size == len(CONTENT)
    assert [r.headers.get("Range") for r in seen] == [None, None]
    assert os.listdir(tmp_path) == [destination.name]


async def test_a_download_error_status_writes_nothing(serve: Serve, fake_time: FakeTime, tmp_path: Path) -> None:
    app, seen = scripted(status(404, '{"resourceType": "OperationOutcome"}'))
    destination = tmp_path / "gone.json"
    async with client(fake_time) as http:
        with pytest.raises(HttpStatusError, match=r"answered 404 Not Found: .*OperationOutcome"):
            await http.download(await serve(app), destination)
    assert len(seen) == 1
    assert os.listdir(tmp_path) == []


async def test_a_download_survives_a_503_with_retry_after(serve: Serve, fake_time: FakeTime, tmp_path: Path) -> None:
    app, _ = scripted(status(503, **{"Retry-After": "7"}), send_content)
    destination = tmp_path / "part.json"
    async with client(fake_time) as http:
        await http.download(await serve(app), destination)
    assert fake_time.sleeps == [7.0]
    assert destination.read_bytes() == CONTENT
