"""A real local HTTP server (pytest-httpserver on 127.0.0.1) and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from pytest_httpserver import HTTPServer

from atlas.http.auth import Credentials, build_auth
from atlas.http.client import HttpClient
from atlas.http.ratelimit import RateLimiter, RetryPolicy
from atlas.http.redact import Redactor
from atlas.models import AuthConfig, RateLimit


@pytest.fixture
def make_client(httpserver: HTTPServer) -> Callable[..., HttpClient]:
    """``make_client(auth=AuthConfig(...), credentials=Credentials(...), max_retries=…)``: a client of
    the test server with fast retries."""
    clients: list[HttpClient] = []

    def make(
        *,
        auth: AuthConfig | None = None,
        credentials: Credentials | None = None,
        rate_limit: RateLimit | None = None,
        max_retries: int = 3,
        backoff: float = 0.01,
        max_backoff: float = 5.0,
        max_page_bytes: int = 1 << 20,
        secret_params: tuple[str, ...] = (),
        timeout: float = 5.0,
    ) -> HttpClient:
        client = HttpClient(
            connector="test_api",
            base_url=httpserver.url_for("/").rstrip("/"),
            session=requests.Session(),
            limiter=RateLimiter.from_config(rate_limit or RateLimit()),
            retry=RetryPolicy(max_retries, backoff, max_backoff),
            timeout=timeout,
            max_page_bytes=max_page_bytes,
            redactor=Redactor(secret_params),
        )
        client.auth = build_auth(auth or AuthConfig(), credentials or Credentials(), client)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

