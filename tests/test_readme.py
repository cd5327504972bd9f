"""The README's connector examples stay true: each JSON body in it is a valid connector request."""

from __future__ import annotations

import json
import re

import pytest

from atlas.intake import parse_request
from tests.helpers import REPO

BODIES = [
    json.loads(block)
    for block in re.findall(r"```json\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    + re.findall(r"<<'JSON'\n(.*?)JSON\n", (REPO / "README.md").read_text(), re.S)
]


def test_readme_has_examples():
    assert len(BODIES) >= 3


@pytest.mark.parametrize("body", BODIES, ids=[b["source_name"] for b in BODIES])
def test_readme_example_is_a_valid_request(body):
    intake = parse_request(body)
    assert intake.spec.source_name == body["source_name"]
