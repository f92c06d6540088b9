"""The local Hub (tests/helpers/hub_server.py) for the tests of this folder: a fresh one per test, stopped after it."""

import pytest

from tests.helpers.hub_server import LocalHub


@pytest.fixture()
def hub(tmp_path):
    with LocalHub(root=tmp_path / "hub") as hub:
        yield hub
