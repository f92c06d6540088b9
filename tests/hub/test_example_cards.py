"""The example cards in model_cards/examples/ (one per method) are exactly what the code writes today: a change of
the template, the card's code or the plot must come with `python model_cards/examples/regenerate.py`."""

import importlib.util
import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "model_cards" / "examples"


def regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate_example_cards", EXAMPLES / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.parent != folder}  # the examples' folders, not regenerate.py


def pinned_matplotlib() -> str:
    return re.search(r"^matplotlib==(\S+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE).group(1)


def test_regenerating_the_examples_gives_the_committed_files(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    regenerate_module().write_examples(str(tmp_path))
    written, committed = files(tmp_path), files(EXAMPLES)
    assert sorted(written) == sorted(committed), "run: python model_cards/examples/regenerate.py"
    # PNG bytes depend on matplotlib (and its fonts): compared with the version constraints.txt pins
    compared = [name for name in committed if not name.endswith(".png") or matplotlib.__version__ == pinned_matplotlib()]
    changed = [name for name in compared if written[name] != committed[name]]
    assert not changed, f"{changed} differ: run python model_cards/examples/regenerate.py"


def test_the_examples_cover_every_method_and_lora_and_parse_on_the_hub():
    readmes = {folder.name: (folder / "README.md").read_text(encoding="utf-8")
               for folder in EXAMPLES.iterdir() if folder.is_dir()}
    methods = {re.search(r"with \*\*(.+?)\*\*", text).group(1) for text in readmes.values()}
    assert methods == {"SimCSE", "DeCLUTR", "SFT+contrastive"}
    assert "`mode` | `unsupervised`" in readmes["simcse-unsupervised"]
    assert "`mode` | `supervised`" in readmes["simcse-supervised"]
    assert any("## LoRA" in text for text in readmes.values())
    for name, text in readmes.items():
        card = ModelCard(text)
        assert card.data.library_name == "sentence-transformers", name
        assert "](training_curve.png)" in text and (EXAMPLES / name / "training_curve.png").is_file(), name
        assert "unnamed" not in text and "local data" not in text, name
