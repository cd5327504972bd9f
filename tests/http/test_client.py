"""HttpClient against a real local server: retries, Retry-After, pacing, redirects, size caps, bad bodies."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from atlas.exceptions import SourceError
from atlas.models import RateLimit


class Sequence:
    """A handler answering with the given responses in turn, recording when each request arrived."""

    def __init__(self, *responses: Response):
        self.responses = list(responses)
        self.arrivals: list[float] = []
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        self.requests.append(request)
        return self.responses[min(len(self.arrivals), len(self.responses)) - 1]


def ok(body=None) -> Response:
    return Response(json.dumps(body if body is not None else {"ok": True}), content_type="application/json")


def test_5xx_is_retried_with_backoff_then_succeeds(httpserver: HTTPServer, make_client):
    handler = Sequence(Response("boom", 500), Response("bad gateway", 502), ok())
    httpserver.expect_request("/x").respond_with_handler(handler)
    client = make_client(max_retries=3, backoff=0.05)
    response = client.request("GET", client.endpoint_url("/x"))
    assert response.status == 200 and len(handler.arrivals) == 3
    gaps = [b - a for a, b in zip(handler.arrivals, handler.arrivals[1:], strict=False)]
    # Backoff with jitter: retry n waits between half and all of 0.05 * 2**(n-1).
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05


def test_5xx_gives_up_after_max_retries_naming_status_and_url(httpserver: HTTPServer, make_client):
    handler = Sequence(Response("still down", 503))
    httpserver.expect_request("/x").respond_with_handler(handler)
    client = make_client(max_retries=2)
    with pytest.raises(SourceError) as err:
        client.request("GET", client.endpoint_url("/x"))
    assert len(handler.arrivals) == 3
    message = str(err.value)
    assert "'test_api'" in message and "HTTP 503" in message and "/x" in message and "still down" in message
    assert "after 2 retries" in message


def test_429_honours_retry_after_seconds(httpserver: HTTPServer, make_client):
    handler = Sequence(Response("slow down", 429, headers={"Retry-After": "1"}), ok())
    httpserver.expect_request("/x").respond_with_handler(handler)
    client = make_client(backoff=0.001)
    assert client.request("GET", client.endpoint_url("/x")).status == 200
    assert handler.arrivals[1] - handler.arrivals[0] >= 0.95


def test_503_honours_retry_after_http_date(httpserver: HTTPServer, make_client):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    handler = Sequence(Response("maintenance", 503, headers={"Retry-After": when}), ok())
    httpserver.expect_request("/x").respond_with_handler(handler)
    client = make_client(backoff=0.001)
    client.request("GET", client.endpoint_url("/x"))
    # The HTTP date has one-second resolution: at least ~1 s, not the 1 ms backoff.
    assert handler.arrivals[1] - handler.arrivals[0] >= 0.9


def test_other_4xx_fails_at_once_with_status_url_and_body(httpserver: HTTPServer, make_client):
    handler = Sequence(Response('{"message": "Not Found"}', 404))
    httpserver.expect_request("/missing").respond_with_handler(handler)
    client = make_client()
    with pytest.raises(SourceError, match=r"HTTP 404.*Not Found") as err:
        client.request("GET", client.endpoint_url("/missing"), params={"q": "x"})
    assert len(handler.arrivals) == 1
    assert "/missing?q=x" in str(err.value)


def test_connection_errors_are_retried_then_reported(make_client):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(max_retries=2)
    client.base_url = f"http://127.0.0.1:{port}"
    client.allowed_origins = {("http", "127.0.0.1", port)}
    started = time.monotonic()
    with pytest.raises(SourceError, match="failed after 2 retries: ConnectionError"):
        client.request("GET", client.endpoint_url("/x"))
    assert client.requests_sent == 3 and time.monotonic() - started < 5


def test_rate_limit_holds_across_requests_and_retries(httpserver: HTTPServer, make_client):
    handler = Sequence(Response("", 500), ok(), Response("", 502), ok(), ok(), ok())
    httpserver.expect_request("/x").respond_with_handler(handler)
    client = make_client(rate_limit=RateLimit(requests_per_second=10), backoff=0.0)
    for _ in range(4):
        client.request("GET", client.endpoint_url("/x"))
    assert len(handler.arrivals) == 6
    gaps = [b - a for a, b in zip(handler.arrivals, handler.arrivals[1:], strict=False)]
    # 10 requests/s with burst 1: every request, retries included, ~100 ms after the last (arrival
    # times seen by the server thread jitter by a few ms).
    assert min(gaps) >= 0.07, gaps
    assert handler.arrivals[-1] - handler.arrivals[0] >= 0.45  # 5 intervals of 0.1 s, less jitter


def test_rate_limit_per_minute(httpserver: HTTPServer, make_client):
    handler = Sequence(ok())
    httpserver.expect_request("/x").respond_with_handler(handler)
    client = make_client(rate_limit=RateLimit(requests_per_minute=600, burst=2))
    for _ in range(5):
        client.request("GET", client.endpoint_url("/x"))
    # burst 2, then 10/s: the 5th request comes 3 intervals (0.3 s) after the first (less arrival jitter).
    assert handler.arrivals[4] - handler.arrivals[0] >= 0.25


def test_redirect_on_the_same_host_is_followed(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/old").respond_with_response(
        Response("", 301, headers={"Location": "/new?page=2"})
    )
    httpserver.expect_request("/new", query_string="page=2").respond_with_json({"moved": True})
    client = make_client()
    response = client.request("GET", client.endpoint_url("/old"), params={"page": 1})
    assert client.json(response) == {"moved": True}


def test_redirect_to_another_host_is_refused(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/old").respond_with_response(
        Response("", 302, headers={"Location": "http://evil.example:8080/steal"})
    )
    client = make_client()
    with pytest.raises(SourceError, match=r"refused to request http://evil.example:8080/steal"):
        client.request("GET", client.endpoint_url("/old"))


def test_request_to_another_host_is_refused_before_sending(make_client):
    client = make_client()
    with pytest.raises(SourceError, match="not on the connection's host"):
        client.request("GET", "http://other.example/x")
    assert client.requests_sent == 0


def test_body_over_max_page_bytes_fails(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/big").respond_with_data("x" * 5000, content_type="application/json")

    def chunked(_request):  # no Content-Length: the cap applies while reading
        return Response((b"y" * 1000 for _ in range(10)), content_type="application/json")

    httpserver.expect_request("/stream").respond_with_handler(chunked)
    client = make_client(max_page_bytes=4096)
    with pytest.raises(SourceError, match=r"too large \(5000 bytes declared\).*max_page_bytes=4096"):
        client.request("GET", client.endpoint_url("/big"))
    with pytest.raises(SourceError, match=r"too large \(more than \d+ bytes\)"):
        client.request("GET", client.endpoint_url("/stream"))


def test_html_and_invalid_json_are_named(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/html").respond_with_data("<html><body>Login</body></html>", content_type="text/html")
    httpserver.expect_request("/broken").respond_with_data('{"items": [', content_type="application/json")
    client = make_client()
    with pytest.raises(SourceError, match=r"expected a JSON body, got an HTML page \(HTTP 200, text/html"):
        client.json(client.request("GET", client.endpoint_url("/html")))
    with pytest.raises(SourceError, match=r"expected a JSON body, got invalid JSON"):
        client.json(client.request("GET", client.endpoint_url("/broken")))
