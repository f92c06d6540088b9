import subprocess
import sys
import zipfile


def test_wheel_ships_the_data_and_declares_dependencies(tmp_path):
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(root)], check=True)
    (wheel,) = tmp_path.glob("hf_contrastive-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith("METADATA"))
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    for resource in ("stsbenchmark_dev_test.tsv.gz", "wiki1m_sample.txt.gz", "SOURCE.md", "STSB_LICENSE.txt"):
        assert f"hf_contrastive/resources/{resource}" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) or "senteval" in n for n in names)  # research-only data
    for module in ("hub/push.py", "hub/card.py", "model_cards/model_card.md.j2", "modeling/classifier.py",
                   "trainers/sft_contrastive_trainer.py", "evaluation/sts_suite.py", "evaluation/transfer.py"):
        assert f"hf_contrastive/{module}" in names
    for requirement in ("sentence-transformers", "transformers", "evaluate", "datasets"):
        assert f"Requires-Dist: {requirement}" in metadata
    assert "hf-contrastive = hf_contrastive.cli:main" in entry_points
