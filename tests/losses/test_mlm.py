import shutil

import pytest
import torch
from transformers import AutoConfig, BertForMaskedLM

from hf_contrastive.losses.mlm import MaskedLM
from hf_contrastive.modeling import build_sentence_transformer


@pytest.fixture()
def mlm_checkpoint(tiny_encoder_dir, tmp_path):
    """A BertForMaskedLM save (MLM head included) with the tiny tokenizer."""
    torch.manual_seed(1)
    model = BertForMaskedLM(AutoConfig.from_pretrained(tiny_encoder_dir))
    with torch.no_grad():
        model.cls.predictions.bias.normal_()  # a non-trivial pretrained head
    model.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{tiny_encoder_dir}/{name}", tmp_path / name)
    return str(tmp_path)


def test_pretrained_head_reproduces_the_masked_lm_logits(mlm_checkpoint, sentences):
    model = build_sentence_transformer(mlm_checkpoint, pooler="avg")
    mlm = MaskedLM(model)
    assert mlm.pretrained_head
    reference = BertForMaskedLM.from_pretrained(mlm_checkpoint).eval()
    encoder = model.transformers_model.eval()
    batch = model.preprocess(sentences[:4])
    with torch.no_grad():
        hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        ours = mlm.head(hidden, encoder.get_input_embeddings().weight)
        theirs = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_a_checkpoint_without_mlm_head_gets_a_fresh_one(tiny_encoder_dir):
    mlm = MaskedLM(build_sentence_transformer(tiny_encoder_dir, pooler="avg"))
    assert not mlm.pretrained_head
    assert torch.equal(mlm.head.bias, torch.zeros_like(mlm.head.bias))


def test_a_head_from_another_checkpoint_is_not_used(mlm_checkpoint, tmp_path_factory):
    """The encoder's `_name_or_path` may point at a checkpoint it was not loaded from (another revision, say)."""
    model = build_sentence_transformer(mlm_checkpoint, pooler="avg")
    with torch.no_grad():
        model.transformers_model.get_input_embeddings().weight.add_(1.0)
    assert not MaskedLM(model).pretrained_head
