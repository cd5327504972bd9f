"""An HTTP client for the connectors API that keeps every response, for the secrets checks.

Every response any test receives is kept in :data:`TRANSCRIPT`, and every secret a test sends is
registered in :data:`SECRETS` (see :func:`new_secret`), so that a test can prove that no secret ever
left the server, in a response body or in any log.
"""

from __future__ import annotations

import secrets

import requests

from tests.support.airflow_server import AirflowServer

#: (method, url, status, body) of every response received through an :class:`ApiClient`.
TRANSCRIPT: list[tuple[str, str, int, str]] = []
#: Every secret the tests sent.
SECRETS: set[str] = set()


def new_secret(prefix: str) -> str:
    """A password/token that is easy to grep for, registered for the secrets check."""
    value = f"{prefix}-{secrets.token_hex(8)}"
    SECRETS.add(value)
    return value


def inline_body(source_type: str, name: str, *, table: str = "t", **credentials) -> dict:
    """A connector body in the seed's format: ``credentials`` (host, password, …) inline in ``config``."""
    return {"source_type": source_type, "source_name": name, "config": credentials, "table": table}


def _record(resp: requests.Response, *args, **kwargs) -> None:
    TRANSCRIPT.append((resp.request.method or "", resp.url, resp.status_code, resp.text))


class ApiClient(requests.Session):
    """A client of one server; paths starting with ``/connectors`` go to the plugin's ``/atlas`` app."""

    def __init__(self, server: AirflowServer, token: str | None = None, cookie: str | None = None):
        super().__init__()
        self.server = server
        self.hooks["response"].append(_record)
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        if cookie:
            self.cookies.set("_token", cookie)

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/connectors"):
            url = "/atlas" + url
        kwargs.setdefault("timeout", 120)
        return super().request(method, self.server.base_url + url, *args, **kwargs)
