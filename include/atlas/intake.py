"""Turn the request bodies people send into a connector spec and, for inline credentials, a Connection.

Two formats are accepted, also mixed:

* the seed's body, verbatim: connection fields inside ``config`` (``host``, ``port``, ``database``,
  ``username``, ``password``; or ``base_url``, ``auth_type``, ``auth_token``, ``additional_params``),
  the table as top-level ``table`` and a REST endpoint as top-level ``query``;
* the extended format: ``conn_id`` naming an existing Airflow Connection, and every source setting of
  :mod:`atlas.models` inside ``config``.

Inline secrets never reach the registry: they become an Airflow Connection ``atlas_<source_name>``
(encrypted by Airflow) and the row keeps only its ``conn_id``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from atlas.connections import ConnectionDraft
from atlas.exceptions import ConnectorConfigError
from atlas.models import SOURCE_TYPES, ConnectorSpec, parse_spec
from atlas.settings import CONNECTION_ID_PREFIX

_CONN_TYPES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite", "rest_api": "http"}
_SQL_CONNECTION_FIELDS = {"host", "port", "database", "username", "password", "extra"}
_REST_CONNECTION_FIELDS = {"base_url", "auth_token", "username", "password", "client_id", "client_secret", "extra"}
_PAGINATION_KEYS = {
    "page_size",
    "page_size_param",
    "max_pages",
    "total_path",
    "has_more_path",
    "offset_param",
    "page_param",
    "first_page",
    "cursor_path",
    "cursor_param",
    "next_url_path",
}


@dataclass(frozen=True)
class Intake:
    """A validated spec, and the Connection to save first when the body carried credentials."""

    spec: ConnectorSpec
    connection: ConnectionDraft | None


def normalize(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a request body into spec data (extended format) and inline connection fields.

    Nothing is validated here except the shape needed to split; :func:`parse_spec` validates.
    """
    if not isinstance(body, dict):
        raise ConnectorConfigError("<unnamed>", [("", "the request body must be a JSON object")])
    data = copy.deepcopy(body)
    name = str(data.get("source_name") or "<unnamed>")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ConnectorConfigError(name, [("config", "must be an object")])
    # The seed repeats source_type/source_name inside config; they must agree with the top level.
    for key in ("source_type", "source_name"):
        if key in config:
            inner = config.pop(key)
            if data.setdefault(key, inner) != inner:
                raise ConnectorConfigError(name, [(f"config.{key}", f"{inner!r} differs from {key}={data[key]!r}")])
    source_type = data.get("source_type")
    connection_fields = _REST_CONNECTION_FIELDS if source_type == "rest_api" else _SQL_CONNECTION_FIELDS
    inline = {k: config.pop(k) for k in list(config) if k in connection_fields}

    if source_type == "rest_api":
        if "query" in data:
            config.setdefault("endpoint", data.pop("query"))
        if "auth_type" in config:
            config.setdefault("auth", {})["type"] = config.pop("auth_type")
        extra_params = config.pop("additional_params", None) or {}
        if extra_params:
            pagination = config.setdefault("pagination", {})
            if "pagination_type" in extra_params:
                pagination["type"] = extra_params.pop("pagination_type")
            for key in [k for k in extra_params if k in _PAGINATION_KEYS]:
                pagination[key] = extra_params.pop(key)
            config.setdefault("params", {}).update(extra_params)
    else:
        for key in ("table", "query"):
            if key in data:
                config.setdefault(key, data.pop(key))
    data["config"] = config
    return data, inline


def connection_draft(spec_data: dict[str, Any], inline: dict[str, Any], conn_id: str) -> ConnectionDraft:
    """The Airflow Connection holding a request's inline credentials."""
    source_type = spec_data["source_type"]
    auth_type = (spec_data["config"].get("auth") or {}).get("type", "none")
    extra = dict(inline.get("extra") or {})
    common = {
        "conn_id": conn_id,
        "conn_type": _CONN_TYPES[source_type],
        "description": f"Atlas connector {spec_data.get('source_name')} (created from inline credentials)",
    }
    if source_type == "rest_api":
        secret = inline.get("auth_token") or inline.get("password") or inline.get("client_secret")
        login = inline.get("username") or inline.get("client_id")
        if auth_type in ("bearer", "api_key") and not secret:
            raise ConnectorConfigError(
                spec_data.get("source_name", "<unnamed>"), [("config.auth_token", f"auth type {auth_type!r} needs it")]
            )
        return ConnectionDraft(host=inline.get("base_url"), login=login, password=secret, extra=extra, **common)
    if source_type == "sqlite":
        return ConnectionDraft(host=inline.get("database") or inline.get("host"), extra=extra, **common)
    port = inline.get("port")
    try:
        port = int(port) if port is not None else None
    except (TypeError, ValueError):
        raise ConnectorConfigError(
            spec_data.get("source_name", "<unnamed>"), [("config.port", f"{port!r} is not a port number")]
        ) from None
    return ConnectionDraft(
        host=inline.get("host"),
        port=port,
        schema=inline.get("database"),
        login=inline.get("username"),
        password=inline.get("password"),
        extra=extra,
        **common,
    )


def parse_request(body: dict[str, Any], *, existing: dict[str, Any] | None = None) -> Intake:
    """Validate a create request or, with ``existing`` (the stored spec data), a partial update.

    An update merges the body over the existing definition: fields it leaves out keep their values,
    the type included. The existing definition may itself be invalid: an update is how it is repaired.
    """
    if existing is not None and isinstance(body, dict) and "source_type" not in body:
        body = {"source_type": existing.get("source_type"), **body}
    data, inline = normalize(body)
    if existing is not None:
        data = _deep_merge(existing, data)
    name = str(data.get("source_name") or "<unnamed>")
    if data.get("source_type") not in SOURCE_TYPES:
        return Intake(parse_spec(data), None)  # raises the error listing the valid types

    existing_conn_id = existing.get("conn_id") if existing else None
    if inline:
        if body.get("conn_id") and body["conn_id"] != existing_conn_id:
            raise ConnectorConfigError(
                name, [("conn_id", "give either conn_id or inline credentials in config, not both")]
            )
        conn_id = existing_conn_id or f"{CONNECTION_ID_PREFIX}{name}"
        data["conn_id"] = conn_id
        spec = parse_spec(data)  # validate the spec before anything is written
        return Intake(spec, connection_draft(data, inline, conn_id))
    if not data.get("conn_id"):
        raise ConnectorConfigError(
            name,
            [("conn_id", "give conn_id (an existing Airflow Connection) or the credentials inline in config")],
        )
    return Intake(parse_spec(data), None)


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, recursively; an object whose ``type`` changes is replaced whole."""
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if (
            isinstance(value, dict)
            and isinstance(current, dict)
            and value.get("type", current.get("type")) == current.get("type")
        ):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged
