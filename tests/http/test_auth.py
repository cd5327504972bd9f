"""Every auth kind against a real local server, including token caching, expiry and 401 refresh."""

from __future__ import annotations

import base64
import json
import time
import typing

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from atlas.exceptions import SourceError
from atlas.http.auth import AUTH_TYPES, Credentials, build_auth
from atlas.models import AuthConfig, AuthType


def _ok(request: Request) -> Response:
    return Response(json.dumps({"ok": True}), content_type="application/json")


class TokenServer:
    """Issues numbered tokens at /token and accepts only the latest one at /data."""

    def __init__(self, server: HTTPServer, *, expires_in: float | None = 3600, jwt_exp: float | None = None):
        self.expires_in, self.jwt_exp = expires_in, jwt_exp
        self.token_requests: list[Request] = []
        self.data_requests: list[str] = []
        self.current: str | None = None
        server.expect_request("/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/data").respond_with_handler(self.data)

    def token(self, request: Request) -> Response:
        self.token_requests.append(request)
        n = len(self.token_requests)
        if self.jwt_exp is not None:
            payload = base64.urlsafe_b64encode(json.dumps({"exp": time.time() + self.jwt_exp}).encode()).rstrip(b"=")
            self.current = f"eyJhbGciOiJIUzI1NiJ9.{payload.decode()}.sig{n}"
        else:
            self.current = f"token-number-{n}"
        body = {"access_token": self.current, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return Response(json.dumps(body), status=201, content_type="application/json")

    def data(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        self.data_requests.append(header)
        if header != f"Bearer {self.current}":
            return Response('{"detail": "token expired"}', status=401, content_type="application/json")
        return _ok(request)

    def revoke(self) -> None:
        self.current = "revoked"


def test_registry_matches_the_config_vocabulary():
    assert set(AUTH_TYPES) == set(typing.get_args(AuthType))


def test_unknown_auth_type_lists_valid_ones(make_client):
    client = make_client()
    with pytest.raises(SourceError, match=r"unknown auth type 'kerberos'; valid: none, bearer, basic, api_key"):
        build_auth(AuthConfig.model_construct(type="kerberos"), Credentials(), client)


def test_none_sends_no_authorization(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/data").respond_with_handler(_ok)
    client = make_client()
    client.request("GET", client.endpoint_url("/data"))
    assert "Authorization" not in httpserver.log[0][0].headers


def test_bearer(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/data", headers={"Authorization": "Bearer abc-123-token"}).respond_with_handler(_ok)
    client = make_client(auth=AuthConfig(type="bearer"), credentials=Credentials(password="abc-123-token"))
    assert client.request("GET", client.endpoint_url("/data")).status == 200


def test_bearer_without_password_says_what_to_set(make_client):
    with pytest.raises(SourceError, match="auth type 'bearer' needs the token as password in the Airflow connection"):
        make_client(auth=AuthConfig(type="bearer"), credentials=Credentials())


def test_basic(httpserver: HTTPServer, make_client):
    expected = "Basic " + base64.b64encode(b"alice:wonder-land").decode()
    httpserver.expect_request("/data", headers={"Authorization": expected}).respond_with_handler(_ok)
    client = make_client(auth=AuthConfig(type="basic"), credentials=Credentials("alice", "wonder-land"))
    assert client.request("GET", client.endpoint_url("/data")).status == 200


def test_api_key_header(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/data", headers={"X-Api-Token": "key-9876"}).respond_with_handler(_ok)
    client = make_client(
        auth=AuthConfig(type="api_key", api_key_name="X-Api-Token"), credentials=Credentials(password="key-9876")
    )
    assert client.request("GET", client.endpoint_url("/data")).status == 200


def test_api_key_query_is_sent_and_redacted_from_errors(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/data", query_string="q=1&apikey=key-9876").respond_with_data("quota", status=403)
    client = make_client(
        auth=AuthConfig(type="api_key", api_key_in="query", api_key_name="apikey"),
        credentials=Credentials(password="key-9876"),
        secret_params=("apikey",),
    )
    with pytest.raises(SourceError, match=r"HTTP 403") as err:
        client.request("GET", client.endpoint_url("/data"), params={"q": 1})
    assert "apikey=***" in str(err.value) and "key-9876" not in str(err.value)


def test_oauth2_client_credentials_basic_fetches_once_and_caches(httpserver: HTTPServer, make_client):
    tokens = TokenServer(httpserver)
    client = make_client(
        auth=AuthConfig(type="oauth2", token_url="/token", scope="read"), credentials=Credentials("cid", "csecret")
    )
    for _ in range(3):
        client.request("GET", client.endpoint_url("/data"))
    assert len(tokens.token_requests) == 1
    token_request = tokens.token_requests[0]
    assert token_request.form.to_dict() == {"grant_type": "client_credentials", "scope": "read"}
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert tokens.data_requests == ["Bearer token-number-1"] * 3


def test_oauth2_client_secret_in_body(httpserver: HTTPServer, make_client):
    tokens = TokenServer(httpserver)
    client = make_client(
        auth=AuthConfig(type="oauth2", token_url="/token", client_auth="body"),
        credentials=Credentials("cid", "csecret"),
    )
    client.request("GET", client.endpoint_url("/data"))
    request = tokens.token_requests[0]
    expected = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret"}
    assert request.form.to_dict() == expected
    assert "Authorization" not in request.headers


def test_token_is_renewed_before_it_expires(httpserver: HTTPServer, make_client):
    tokens = TokenServer(httpserver, expires_in=0.6)  # renewed at half its life: 0.3 s
    client = make_client(auth=AuthConfig(type="oauth2", token_url="/token"), credentials=Credentials("cid", "cs"))
    client.request("GET", client.endpoint_url("/data"))
    client.request("GET", client.endpoint_url("/data"))
    time.sleep(0.35)
    client.request("GET", client.endpoint_url("/data"))
    assert len(tokens.token_requests) == 2
    assert tokens.data_requests == ["Bearer token-number-1"] * 2 + ["Bearer token-number-2"]


def test_401_refreshes_the_token_once(httpserver: HTTPServer, make_client):
    tokens = TokenServer(httpserver)
    client = make_client(auth=AuthConfig(type="oauth2", token_url="/token"), credentials=Credentials("cid", "cs"))
    client.request("GET", client.endpoint_url("/data"))
    tokens.revoke()  # the server forgets the token before its expiry
    assert client.request("GET", client.endpoint_url("/data")).status == 200
    assert tokens.data_requests == ["Bearer token-number-1", "Bearer token-number-1", "Bearer token-number-2"]


def test_persistent_401_fails_instead_of_looping(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/token", method="POST").respond_with_json({"access_token": "t-always-bad"})
    httpserver.expect_request("/data").respond_with_data("no", status=401)
    client = make_client(auth=AuthConfig(type="oauth2", token_url="/token"), credentials=Credentials("cid", "cs"))
    with pytest.raises(SourceError, match="HTTP 401"):
        client.request("GET", client.endpoint_url("/data"))
    assert len(httpserver.log) == 4  # token, data, token again, data


def test_token_endpoint_posts_json_login_and_reads_jwt_expiry(httpserver: HTTPServer, make_client):
    tokens = TokenServer(httpserver, expires_in=None, jwt_exp=3600)
    client = make_client(
        auth=AuthConfig(type="token_endpoint", token_url="/token"), credentials=Credentials("admin", "adminpw")
    )
    for _ in range(2):
        client.request("GET", client.endpoint_url("/data"))
    assert len(tokens.token_requests) == 1
    assert tokens.token_requests[0].get_json() == {"username": "admin", "password": "adminpw"}
    assert client.auth._renew_at - time.monotonic() > 3000  # from the JWT's exp claim, less the margin


def test_token_endpoint_short_jwt_is_renewed(httpserver: HTTPServer, make_client):
    tokens = TokenServer(httpserver, expires_in=None, jwt_exp=0.6)
    client = make_client(
        auth=AuthConfig(type="token_endpoint", token_url="/token"), credentials=Credentials("admin", "adminpw")
    )
    client.request("GET", client.endpoint_url("/data"))
    time.sleep(0.4)
    client.request("GET", client.endpoint_url("/data"))
    assert len(tokens.token_requests) == 2


def test_token_response_without_token_says_which_path(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/token", method="POST").respond_with_json({"jwt": "abc"})
    client = make_client(auth=AuthConfig(type="token_endpoint", token_url="/token"), credentials=Credentials("a", "b"))
    with pytest.raises(SourceError, match=r"has no string at 'access_token' \(set auth.token_path\)"):
        client.request("GET", client.endpoint_url("/data"))


def test_fetched_tokens_are_redacted(httpserver: HTTPServer, make_client):
    httpserver.expect_request("/token", method="POST").respond_with_json({"access_token": "fresh-token-xyz"})
    httpserver.expect_request("/data").respond_with_data("bad request for fresh-token-xyz", status=400)
    client = make_client(auth=AuthConfig(type="oauth2", token_url="/token"), credentials=Credentials("cid", "cs"))
    with pytest.raises(SourceError) as err:
        client.request("GET", client.endpoint_url("/data"))
    assert "bad request for ***" in str(err.value)


def test_token_kinds_need_a_token_url():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="auth type 'oauth2' needs 'token_url'"):
        AuthConfig(type="oauth2")
