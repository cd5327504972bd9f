"""The pagination registry and the connector vocabulary stay in step; unknown kinds list the valid ones."""

from __future__ import annotations

import typing

import pytest

from atlas.exceptions import ConnectorConfigError
from atlas.http.pagination import PAGINATORS
from atlas.models import Pagination, parse_spec


def test_registry_matches_the_config_vocabulary():
    union = typing.get_args(Pagination)[0]
    kinds = {typing.get_args(model.model_fields["type"].annotation)[0] for model in typing.get_args(union)}
    assert kinds == set(PAGINATORS)


def test_unknown_pagination_type_lists_the_valid_ones():
    row = {"source_type": "rest_api", "source_name": "x", "conn_id": "c",
           "config": {"endpoint": "/a", "pagination": {"type": "scroll"}}}
    with pytest.raises(ConnectorConfigError, match=r"config.pagination: .*'scroll'.*'offset'.*'link_header'"):
        parse_spec(row)


def test_unknown_auth_type_lists_the_valid_ones():
    row = {"source_type": "rest_api", "source_name": "x", "conn_id": "c",
           "config": {"endpoint": "/a", "auth": {"type": "kerberos"}}}
    with pytest.raises(ConnectorConfigError, match=r"config.auth.type: .*'bearer'.*'token_endpoint'"):
        parse_spec(row)
