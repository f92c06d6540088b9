"""Clients of the local Hub (tests/helpers/hub_server.py) run in subprocesses, and what every test checks after them."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from tests.helpers import ROOT
from tests.helpers.hub_server import DEFAULT_TOKEN, LocalHub, run_client


def client_code(code: str, prelude: str = "") -> str:
    """`code` (dedented) after a line that puts this repository first on the import path (so the client imports this
    checkout of hf_contrastive and `tests.helpers`), then `prelude`."""
    return f"import sys, json\nsys.path.insert(0, {ROOT!r})\n{prelude}{textwrap.dedent(code)}"


def client(hub: LocalHub, home: str | os.PathLike, code: str, *, prelude: str = "", timeout: float = 300,
           **env: str) -> Any:
    """Run `code` in a client process of `hub` with `home` as its HF_HOME (see `client_code` and `run_client`); the
    value of the JSON it printed last."""
    proc = run_client(hub, client_code(code, prelude), home, timeout=timeout, **env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_clean(hub: LocalHub, *homes: str | os.PathLike, token: str = DEFAULT_TOKEN) -> None:
    """Nothing tried to leave the machine; the token went in the Authorization header of the Hub API calls only
    (never in a URL, never to the LFS upload URL) and is in no file the server or the clients stored."""
    assert hub.blocked == [] and hub.errors == []
    assert all(token not in r.path + r.query for r in hub.requests)
    assert all(r.token == token for r in hub.requests if not r.path.startswith("/lfs-upload/"))
    assert all(r.token is None for r in hub.requests if r.path.startswith("/lfs-upload/"))
    for folder in (hub.root, *homes):
        for path in Path(folder).rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert token.encode() not in path.read_bytes(), path
