"""Every ```python block of README.md and docs/ runs, as written, so that none can go stale.

The blocks of one page run in order in one fresh Python process (a page reads as one session), in a scratch folder
that sees the repository's `benchmarks/` and `examples/`, against the local Hub (tests/helpers/hub_server.py): the
model ids the pages name (`sentence-transformers/all-MiniLM-L6-v2`) are served there as a tiny random BERT, and pushes land
there. The text of a snippet is not changed; only where its model comes from is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers.encoder import build_tiny_encoder
from tests.helpers.hub_server import LocalHub, run_client

PAGES = sorted(["README.md", *(str(p.relative_to(ROOT)) for p in Path(ROOT, "docs").rglob("*.md"))])
HUB_MODELS = ("sentence-transformers/all-MiniLM-L6-v2",)  # the model ids the pages use
FENCE = re.compile(r"^```python\n(.*?)^```\n", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each block fenced with ```python at the start of a line."""
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in FENCE.finditer(text)]


def page_script(page: str) -> str:
    """The page's blocks in order, each after a comment naming where it starts (tracebacks point at the page) and
    followed by a line on stderr with its seconds (shown when the page fails)."""
    script = "import sys as _sys, time as _time\n_start = _time.perf_counter()\n"
    for line, code in python_blocks(Path(ROOT, page).read_text()):
        script += (f"# {page}, line {line}\n{code}\n"
                   f"_sys.stderr.write(f'{page}, line {line}: {{_time.perf_counter() - _start:.1f}} s\\n')\n"
                   "_start = _time.perf_counter()\n")
    return script


def test_blocks_are_found_with_their_lines():
    text = "intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n```python\ny = 2\nz = 3\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = 2\nz = 3\n")]


def test_every_method_page_and_the_readme_have_snippets():
    with_code = {page for page in PAGES if python_blocks(Path(ROOT, page).read_text())}
    assert {"README.md", "docs/simcse.md", "docs/declutr.md", "docs/sft-contrastive.md", "docs/supcon.md"} <= with_code


@pytest.fixture(scope="module")
def snippet_hub(tmp_path_factory):
    """The local Hub with a tiny BERT under each id of HUB_MODELS."""
    root = tmp_path_factory.mktemp("snippet-hub")
    model = build_tiny_encoder(str(root / "tiny"))
    with LocalHub(root=root / "hub") as hub:
        upload = ("from huggingface_hub import HfApi\n"  # in a client: this process is offline
                  f"for repo_id in {list(HUB_MODELS)!r}:\n"
                  "    HfApi().create_repo(repo_id)\n"
                  f"    HfApi().upload_folder(repo_id=repo_id, folder_path={model!r})\n")
        run_client(hub, upload, root / "hf-home")
        yield hub


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(Path(ROOT, p).read_text())])
def test_page_snippets_run(page, snippet_hub, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for shared in ("benchmarks", "examples"):  # the paths the snippets read, as from the repository's root
        os.symlink(os.path.join(ROOT, shared), work / shared)
    env = snippet_hub.client_env(tmp_path / "hf-home", PYTHONPATH=ROOT, PYTHONWARNINGS="ignore",
                                 HF_DATASETS_OFFLINE="1", HF_EVALUATE_OFFLINE="1")  # the Hub alone is online
    proc = subprocess.run([sys.executable, "-c", page_script(page)], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{page}'s snippets failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert snippet_hub.blocked == [], snippet_hub.blocked
