"""Authentication kinds: small ``requests`` auth objects, one class per kind in :data:`AUTH_TYPES`.

Secrets come from the Airflow connection (:class:`Credentials`), settings from the connector's
:class:`~atlas.models.AuthConfig`. Token kinds fetch a token through the run's own
:class:`~atlas.http.client.HttpClient` (paced and retried like every request), cache it, renew it
shortly before it expires and once after a 401.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from atlas.http.records import RecordError, lookup
from atlas.models import AuthConfig

if TYPE_CHECKING:
    from atlas.http.client import HttpClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credentials:
    """The secret half of an HTTP connection."""

    login: str | None = None
    password: str | None = field(default=None, repr=False)


class Auth(AuthBase):
    """Adds credentials to each request. ``refresh`` is asked after a 401: True means retry once."""

    kind: ClassVar[str]

    def __init__(self, config: AuthConfig, credentials: Credentials, client: HttpClient):
        self.config = config
        self.credentials = credentials
        self.client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    def refresh(self) -> bool:
        return False

    def _require(self, value: str | None, what: str) -> str:
        if not value:
            raise self.client.error(f"auth type {self.kind!r} needs {what} in the Airflow connection")
        return value


class NoAuth(Auth):
    kind = "none"


class BearerAuth(Auth):
    """``Authorization: Bearer <connection password>``."""

    kind = "bearer"

    def __init__(self, config: AuthConfig, credentials: Credentials, client: HttpClient):
        super().__init__(config, credentials, client)
        self._header = "Bearer " + self._require(credentials.password, "the token as password")

    def __call__(self, request):
        request.headers["Authorization"] = self._header
        return request


class BasicAuth(Auth):
    """HTTP basic auth with the connection's login and password."""

    kind = "basic"

    def __init__(self, config: AuthConfig, credentials: Credentials, client: HttpClient):
        super().__init__(config, credentials, client)
        self._basic = HTTPBasicAuth(self._require(credentials.login, "a login"), credentials.password or "")

    def __call__(self, request):
        return self._basic(request)


class ApiKeyAuth(Auth):
    """The connection's password as a header or query parameter named ``api_key_name``."""

    kind = "api_key"

    def __init__(self, config: AuthConfig, credentials: Credentials, client: HttpClient):
        super().__init__(config, credentials, client)
        self._key = self._require(credentials.password, "the key as password")

    def __call__(self, request):
        if self.config.api_key_in == "header":
            request.headers[self.config.api_key_name] = self._key
        else:
            request.prepare_url(request.url, {self.config.api_key_name: self._key})
        return request


class TokenAuth(Auth):
    """A bearer token fetched from ``token_url``, cached until shortly before it expires."""

    def __init__(
        self,
        config: AuthConfig,
        credentials: Credentials,
        client: HttpClient,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(config, credentials, client)
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self.fetches = 0

    def __call__(self, request):
        if self._token is None or self._clock() >= self._renew_at:
            self._fetch()
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def refresh(self) -> bool:
        self._fetch()
        return True

    def _token_request(self) -> dict[str, Any]:
        """Keyword arguments of the token POST (``json``/``data``/``auth``)."""
        raise NotImplementedError

    def _fetch(self) -> None:
        url = self.config.token_url or ""
        url = url if "://" in url else self.client.endpoint_url(url)
        response = self.client.request("POST", url, **self._token_request())
        body = self.client.json(response)
        try:
            token = lookup(body, self.config.token_path)
        except RecordError:
            token = None
        if not isinstance(token, str) or not token:
            raise self.client.error(
                f"the token response of {self.client.redactor.url(url)} has no string at "
                f"{self.config.token_path!r} (set auth.token_path)"
            )
        self.client.redactor.add(token)
        lifetime = _lifetime(body, self.config.expires_in_path, token)
        self._token = token
        self.fetches += 1
        # Renew a little early; for tokens shorter-lived than the margin, at half their life.
        margin = min(self.config.refresh_margin_seconds, lifetime / 2) if lifetime else 0
        self._renew_at = self._clock() + lifetime - margin if lifetime else float("inf")
        log.info("fetched a %s token%s", self.kind, f" valid {lifetime:.0f}s" if lifetime else "")


def _lifetime(body: Any, expires_in_path: str, token: str) -> float | None:
    """Seconds the token lives: ``expires_in`` from the body, else the JWT's ``exp`` claim, else None."""
    try:
        expires_in = lookup(body, expires_in_path)
        return max(0.0, float(expires_in))
    except (RecordError, TypeError, ValueError):
        pass
    parts = token.split(".")
    if len(parts) == 3:
        try:
            payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            return max(0.0, float(payload["exp"]) - time.time())
        except (ValueError, KeyError, TypeError):
            return None
    return None


class OAuth2ClientCredentials(TokenAuth):
    """OAuth 2 client credentials grant: login = client id, password = client secret."""

    kind = "oauth2"

    def _token_request(self) -> dict[str, Any]:
        client_id = self._require(self.credentials.login, "the client id as login")
        secret = self._require(self.credentials.password, "the client secret as password")
        form = {"grant_type": "client_credentials"}
        if self.config.scope:
            form["scope"] = self.config.scope
        if self.config.client_auth == "body":
            return {"data": {**form, "client_id": client_id, "client_secret": secret}, "auth": False}
        return {"data": form, "auth": HTTPBasicAuth(client_id, secret)}


class TokenEndpointAuth(TokenAuth):
    """A token POSTed for a JSON login, e.g. Airflow's ``POST /auth/token {"username", "password"}``."""

    kind = "token_endpoint"

    def _token_request(self) -> dict[str, Any]:
        body = {
            self.config.username_field: self._require(self.credentials.login, "a login"),
            self.config.password_field: self._require(self.credentials.password, "a password"),
        }
        return {"json": body, "auth": False}


AUTH_TYPES: dict[str, type[Auth]] = {
    cls.kind: cls
    for cls in (NoAuth, BearerAuth, BasicAuth, ApiKeyAuth, OAuth2ClientCredentials, TokenEndpointAuth)
}


def build_auth(config: AuthConfig, credentials: Credentials, client: HttpClient) -> Auth:
    """The auth object of ``config.type``; an unknown name lists the valid ones."""
    try:
        cls = AUTH_TYPES[config.type]
    except KeyError:
        raise client.error(f"unknown auth type {config.type!r}; valid: {', '.join(AUTH_TYPES)}") from None
    client.redactor.add(credentials.password)
    return cls(config, credentials, client)
