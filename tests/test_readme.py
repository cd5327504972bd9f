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


def test_readme_examples_have_distinct_names():
    """Walkthroughs run one after the other against one demo: a reused name would answer 409."""
    names = [body["source_name"] for body in BODIES]
    assert len(names) == len(set(names)), names


def test_readme_commands_run_from_the_venv():
    """`airflow`/`atlas` commands in the shell examples name `.venv/bin/`: nothing else installs them on PATH."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    commands = [m for block in blocks for m in re.finditer(r"(\S*)\b(airflow|atlas) [a-z]", block)]
    assert len(commands) >= 5
    assert [m.group(0) for m in commands if m.group(1) != ".venv/bin/"] == []
