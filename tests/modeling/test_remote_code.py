"""No code from a model folder runs unless asked for: the library never turns `trust_remote_code` on (issue #8)."""

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers.runs import make_trainer

REMOTE_CODE = """open({sentinel!r}, "a").write(__name__ + "\\n")  # importing this file leaves a trace
from transformers import BertConfig, BertModel
from sentence_transformers.sentence_transformer.modules import Pooling


class EvilConfig(BertConfig):
    model_type = "bert"


class EvilModel(BertModel):
    config_class = EvilConfig


class EvilPooling(Pooling):
    pass
"""


@pytest.fixture()
def remote_code_models(tmp_path, tiny_encoder_dir):
    """A plain encoder whose config.json maps AutoConfig/AutoModel to a code file in its folder, a SentenceTransformer
    whose modules.json names a module class from a code file in its folder, and the file that importing either code
    file appends to."""
    import shutil

    from hf_contrastive import build_sentence_transformer

    sentinel = tmp_path / "imported.txt"
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    config = json.loads((encoder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    (encoder / "config.json").write_text(json.dumps(config))
    saved = tmp_path / "sentence-transformer"
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(saved))
    modules = json.loads((saved / "modules.json").read_text())
    modules[1]["type"] = "evil.EvilPooling"
    (saved / "modules.json").write_text(json.dumps(modules))
    for folder in (encoder, saved):
        (folder / "evil.py").write_text(REMOTE_CODE.format(sentinel=str(sentinel)))
    return str(encoder), str(saved), sentinel


def test_no_code_from_a_model_folder_runs_by_default(remote_code_models, sentences):
    """Building from a folder whose config.json has an `auto_map` to its own code loads the standard architecture
    and never imports that code, for every trainer and the builder; a SentenceTransformer folder naming a module class
    of its own code is refused (sentence-transformers asks for `trust_remote_code=True`). The last lines check that
    the fixture's code does run when trusted, so the absence of its trace above means something."""
    from sentence_transformers import SentenceTransformer

    from hf_contrastive import build_sentence_transformer

    encoder, saved, sentinel = remote_code_models
    model = build_sentence_transformer(encoder, pooler="avg")
    assert type(model[0].auto_model).__name__ == "BertModel"
    for method in ("simcse", "declutr", "sft"):
        trainer = make_trainer(method, encoder, str(sentinel.parent / method))
        assert type(trainer.model[0].auto_model).__name__ == "BertModel"
    for load in (lambda: build_sentence_transformer(saved), lambda: make_trainer("simcse", saved, str(sentinel))):
        with pytest.raises(ValueError, match="trust_remote_code=True"):
            load()
    assert not sentinel.exists(), "a model folder's own code was imported"

    SentenceTransformer(saved, trust_remote_code=True)  # the control: trusted, the code runs
    assert sentinel.read_text().count("evil") == 1


def test_library_never_turns_trust_remote_code_on():
    """No call in hf_contrastive passes `trust_remote_code=True` (or a variable): loading stays on the defaults of
    transformers and sentence-transformers, which are off."""
    import re

    package = Path(ROOT) / "hf_contrastive"
    found = [f"{p}:{n}" for p in package.rglob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"trust_remote_code\s*=", line)]
    assert found == []
