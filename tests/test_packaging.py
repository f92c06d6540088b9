import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(folder), str(ROOT)], check=True)
    (built,) = folder.glob("hf_contrastive-*.whl")
    return built


def test_wheel_ships_the_data_and_declares_dependencies(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith("METADATA"))
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    for resource in ("stsbenchmark_dev_test.tsv.gz", "wiki1m_sample.txt.gz", "SOURCE.md", "STSB_LICENSE.txt"):
        assert f"hf_contrastive/resources/{resource}" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) or "senteval" in n for n in names)  # research-only data
    # the template (the repository's model_cards/) is package data; its example cards and their script are not
    assert "hf_contrastive/model_cards/model_card.md.j2" in names and "hf_contrastive/model_cards/__init__.py" in names
    assert not any(n.startswith(("model_cards/", "hf_contrastive/model_cards/examples")) for n in names)
    for module in ("hub/push.py", "hub/card.py", "modeling/classifier.py",
                   "trainers/sft_contrastive_trainer.py", "evaluation/sts_suite.py", "evaluation/transfer.py"):
        assert f"hf_contrastive/{module}" in names
    for requirement in ("sentence-transformers", "transformers", "evaluate", "datasets"):
        assert f"Requires-Dist: {requirement}" in metadata
    assert "hf-contrastive = hf_contrastive.cli:main" in entry_points


def test_an_installed_wheel_renders_the_card_from_its_package_data(wheel, tmp_path):
    """The wheel unpacked alone on `sys.path` (no checkout beside it) finds the template as package data."""
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = ("import hf_contrastive.hub.card as c; from hf_contrastive.hub.card_data import CardData; "
            "assert c.__file__.startswith(%r), c.__file__; "
            "print(c.render_card(CardData(model_name='m', method='SimCSE', embedding_dimension=8)))" % str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "# m" in result.stdout and "**SimCSE**" in result.stdout


def test_an_editable_install_maps_the_template_folder(tmp_path):
    """setuptools' editable wheel (PEP 660) maps hf_contrastive.model_cards to the checkout's model_cards/."""
    code = f"from setuptools import build_meta; print(build_meta.build_editable({str(tmp_path)!r}))"
    name = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.split()[-1]
    with zipfile.ZipFile(tmp_path / name) as archive:
        finder = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("_finder.py"))
    assert f"'hf_contrastive.model_cards': '{ROOT / 'model_cards'}'" in finder


def test_the_top_level_lists_and_resolves_its_public_names():
    import hf_contrastive
    from hf_contrastive import evaluation, trainers

    public = set(hf_contrastive.__all__)
    assert {"ConfigError", "PushError", "DataError", "load_text_dataset", "push_release", "SimCSETrainer",
            "SFTContrastiveConfig", "SimCSELoss", "EmbeddingClassifier", "evaluate_sts_suite"} <= public
    assert set(trainers.__all__) <= public and len(public) == len(hf_contrastive.__all__)  # no name twice
    assert not {"STSTask", "STSTaskData", "find_sts_task_file", "load_sts_task"} & public  # evaluation plumbing
    assert {"STSTask", "find_sts_task_file"} <= set(evaluation.__all__)  # ... stays in its package
    listed = dir(hf_contrastive)
    assert public <= set(listed) and "import_module" not in listed and "__version__" in listed
    for name in public:
        assert getattr(hf_contrastive, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'STSTask'"):
        hf_contrastive.STSTask


def test_test_modules_import_only_the_helpers():
    """No test module imports another (or conftest): what tests share lives in tests/helpers/."""
    import ast
    import pathlib

    offending = []
    for path in pathlib.Path(__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ["tests." + (node.module or "") if node.level else node.module or ""] \
                if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            offending += [f"{path.name}: {name}" for name in names
                          if name.startswith("tests") and not name.startswith("tests.helpers")
                          and path.parent.name != "helpers"]  # helpers import each other
    assert not offending, offending
