"""One HTTP client per run: same-host requests, paced, retried, size-capped, with secrets redacted.

Built on the Airflow HTTP connection through the provider's :class:`HttpHook`, which gives the base
URL and a ``requests`` session configured from the connection's extra (headers, TLS, proxies).
Authentication is Atlas's own (:mod:`atlas.http.auth`), so the hook's default basic auth is removed.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase
from requests.structures import CaseInsensitiveDict

from atlas.exceptions import SourceError
from atlas.http.ratelimit import RateLimiter, RetryPolicy, parse_retry_after
from atlas.http.redact import Redactor

if TYPE_CHECKING:
    from atlas.http.auth import Auth

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_SNIPPET = 300
_CHUNK = 1 << 16


@dataclass(frozen=True)
class HttpResponse:
    """A fully read response: the body is bytes already bounded by ``max_page_bytes``."""

    method: str
    url: str
    status: int
    headers: CaseInsensitiveDict
    content: bytes


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the scheme's default port made explicit."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def join_url(base_url: str, endpoint: str) -> str:
    """``base_url`` + ``endpoint`` the way HttpHook joins them (a base path such as ``/v1`` is kept)."""
    return base_url.rstrip("/") + "/" + endpoint.lstrip("/")


class HttpClient:
    """Sends the requests of one connector run.

    Every request (pages, retries, token fetches) takes a token from the one :class:`RateLimiter`;
    429 and 503 wait for ``Retry-After``; other 5xx and connection errors back off exponentially;
    any other 4xx fails at once. A 401 lets the auth refresh its token once. Requests and redirects
    may only go to the connection's host (or an explicitly configured token URL's host).
    """

    def __init__(
        self,
        *,
        connector: str,
        base_url: str,
        session: requests.Session,
        limiter: RateLimiter,
        retry: RetryPolicy,
        timeout: float,
        max_page_bytes: int,
        redactor: Redactor,
    ):
        self.connector = connector
        self.base_url = base_url
        self.session = session
        self.limiter = limiter
        self.retry = retry
        self.timeout = timeout
        self.max_page_bytes = max_page_bytes
        self.redactor = redactor
        redactor.attach()
        #: Set once the auth is built: token auths send their token requests through this client.
        self.auth: Auth | None = None
        self.allowed_origins = {origin(base_url)}
        self.bytes_read = 0
        self.requests_sent = 0

    def error(self, message: str) -> SourceError:
        return SourceError(self.redactor.text(f"connector {self.connector!r}: {message}"))

    def endpoint_url(self, endpoint: str) -> str:
        return join_url(self.base_url, endpoint)

    def resolve(self, url: str, relative_to: str) -> str:
        """An absolute URL for a link read from a response, refused if it leaves the connection's host."""
        absolute = urljoin(relative_to, url)
        self.check_origin(absolute)
        return absolute

    def check_origin(self, url: str) -> None:
        if origin(url) not in self.allowed_origins:
            scheme, host, port = origin(self.base_url)
            raise self.error(
                f"refused to request {self.redactor.url(url)}: it is not on the connection's host "
                f"{scheme}://{host}:{port}; links and redirects may not leave it (credentials would follow)"
            )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: AuthBase | bool = True,
    ) -> HttpResponse:
        """Send a request with pacing and retries; return the successful response or raise SourceError."""
        self.check_origin(url)
        refreshed = False
        retries = 0
        while True:
            self.limiter.acquire()
            try:
                response = self._send(method, url, params, json, data, headers, self.auth if auth is True else auth)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if retries >= self.retry.max_retries:
                    raise self.error(
                        f"{method} {self.redactor.url(url)} failed after {retries} retries: {type(exc).__name__}: {exc}"
                    ) from None
                retries += 1
                delay = self.retry.delay(retries)
                log.warning("%s %s: %s; retry %d in %.2fs", method, self.redactor.url(url),
                            type(exc).__name__, retries, delay)
                time.sleep(delay)
                continue
            status = response.status
            if status == 401 and auth is True and self.auth is not None and not refreshed:
                refreshed = True
                if self.auth.refresh():
                    log.info("%s %s: 401, authenticating again", method, self.redactor.url(response.url))
                    continue
            if status == 429 or status >= 500:
                if retries >= self.retry.max_retries:
                    raise self.error(f"{self._describe(response)} (gave up after {retries} retries)")
                retries += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
                delay = self.retry.delay(retries, retry_after)
                log.warning("%s %s: HTTP %d; retry %d in %.2fs", method, self.redactor.url(response.url),
                            status, retries, delay)
                time.sleep(delay)
                continue
            if status >= 400:
                raise self.error(self._describe(response))
            return response

    def json(self, response: HttpResponse) -> Any:
        """The decoded JSON body, or a SourceError saying what came instead (an HTML page, broken JSON)."""
        try:
            return jsonlib.loads(response.content)
        except ValueError as exc:
            content_type = response.headers.get("Content-Type", "no Content-Type")
            html = "html" in content_type.lower() or response.content.lstrip()[:1] == b"<"
            got = "an HTML page" if html else f"invalid JSON ({exc})"
            raise self.error(
                f"{response.method} {self.redactor.url(response.url)}: expected a JSON body, got {got} "
                f"(HTTP {response.status}, {content_type}): {self._snippet(response)!r}"
            ) from None

    def _describe(self, response: HttpResponse) -> str:
        return (
            f"{response.method} {self.redactor.url(response.url)} failed with HTTP {response.status}: "
            f"{self._snippet(response)!r}"
        )

    def _snippet(self, response: HttpResponse) -> str:
        """The start of the body, for error messages (secrets masked by :meth:`error`)."""
        return response.content[:_SNIPPET].decode("utf-8", "replace").strip()

    def _send(self, method, url, params, json, data, headers, auth) -> HttpResponse:
        for _ in range(_MAX_REDIRECTS + 1):
            self.requests_sent += 1
            raw = self.session.request(
                method, url, params=params, json=json, data=data, headers=headers, auth=auth,
                timeout=self.timeout, allow_redirects=False, stream=True,
            )
            with raw:
                if raw.status_code not in _REDIRECTS or "Location" not in raw.headers:
                    return HttpResponse(method, raw.url, raw.status_code, raw.headers, self._read(raw))
                # Followed by hand: requests would follow a redirect to any host.
                url = self.resolve(raw.headers["Location"], raw.url)
            params = None  # the Location carries its own query
            if raw.status_code == 303 or (raw.status_code in (301, 302) and method == "POST"):
                method, json, data = "GET", None, None
        raise self.error(f"{method} {self.redactor.url(url)}: more than {_MAX_REDIRECTS} redirects")

    def _read(self, raw: requests.Response) -> bytes:
        declared = raw.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_page_bytes:
            raise self._too_large(raw.url, f"{int(declared)} bytes declared")
        chunks, size = [], 0
        for chunk in raw.iter_content(_CHUNK):
            size += len(chunk)
            if size > self.max_page_bytes:
                raise self._too_large(raw.url, f"more than {size} bytes")
            chunks.append(chunk)
        self.bytes_read += size
        return b"".join(chunks)

    def _too_large(self, url: str, got: str) -> SourceError:
        return self.error(
            f"response of {self.redactor.url(url)} is too large ({got}); the limit is max_page_bytes="
            f"{self.max_page_bytes}: lower the page size or raise the limit"
        )

    def close(self) -> None:
        self.session.close()
        self.redactor.detach()
