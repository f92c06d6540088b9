import logging

import pytest
from datasets import Dataset

from hf_contrastive.data.collators import DeCLUTRDataCollator
from hf_contrastive.data.spans import SpanSettings
from hf_contrastive.data.transforms import prepare_documents


@pytest.fixture()
def documents(sentences):
    long = [" . ".join(sentences[i:] + sentences[:i]) for i in range(4)]
    return Dataset.from_dict({"text": [long[0], "the cat sat", long[1], long[2], "a dog", long[3]]})


def collator(model, seed=0):
    spans = SpanSettings(num_anchors=2, num_positives=2, min_span_len=3, max_span_len=20)
    return DeCLUTRDataCollator(preprocess_fn=model.preprocess, spans=spans, seed=seed)


def test_offsets_cover_the_model_tokens(model, documents):
    prepared = prepare_documents(documents, model.tokenizer, num_anchors=2, max_span_len=20)
    row = prepared[0]
    pieces = [row["text"][s:e] for s, e in zip(row["token_starts"], row["token_ends"])]
    expected = model.tokenizer(row["text"], add_special_tokens=False)["input_ids"]
    assert model.tokenizer.convert_tokens_to_ids(pieces) == expected


def test_a_tokenizer_with_truncation_still_sees_whole_documents(model, documents):
    model.tokenizer.backend_tokenizer.enable_truncation(8)
    prepared = prepare_documents(documents, model.tokenizer, num_anchors=2, max_span_len=20)
    assert min(len(starts) for starts in prepared["token_starts"]) >= 80
    assert model.tokenizer.backend_tokenizer.truncation["max_length"] == 8, "the user's tokenizer is not changed"


def test_short_documents_are_dropped_and_counted(model, documents, caplog):
    with caplog.at_level(logging.WARNING):
        prepared = prepare_documents(documents, model.tokenizer, num_anchors=2, max_span_len=20)
    assert prepared["doc_index"] == [0, 2, 3, 5]
    assert "dropped 2 of 6 documents" in caplog.text and "fewer than 80 tokens" in caplog.text


def test_strict_mode_names_the_document(model, documents):
    with pytest.raises(ValueError, match=r"row 1 has 3 tokens; DeCLUTR needs at least 80 \(.* = 2 \* 20 \* 2\)"):
        prepare_documents(documents, model.tokenizer, num_anchors=2, max_span_len=20, strict=True)


def test_nothing_left_is_an_error(model, documents):
    with pytest.raises(ValueError, match="No document in `train_dataset` has the 8000 tokens"):
        prepare_documents(documents, model.tokenizer, num_anchors=2, max_span_len=2000)


@pytest.mark.parametrize("data,message", [({"body": ["x"]}, r"needs a 'text' column .* columns \['body'\]"),
                                          ({"text": ["fine", None]}, r"row 1: column 'text' is missing \(None\)"),
                                          ({"text": []}, "`train_dataset` is empty")])
def test_bad_documents_are_named(model, data, message):
    with pytest.raises(ValueError, match=message):
        prepare_documents(Dataset.from_dict(data), model.tokenizer, num_anchors=1, max_span_len=2)


def test_spans_are_substrings_resampled_per_epoch_and_batch_independent(model, documents):
    prepared = prepare_documents(documents, model.tokenizer, num_anchors=2, max_span_len=20)
    spans = collator(model)
    rows = spans.span_rows(prepared[0])
    assert len(rows) == 2 and set(rows[0]) == {"anchor", "positive_0", "positive_1"}
    assert all(text in prepared[0]["text"] for row in rows for text in row.values())
    assert spans.span_rows(prepared[0]) == rows, "same seed, epoch and document: same spans"
    spans.epoch = 1
    assert spans.span_rows(prepared[0]) != rows, "a new epoch samples new spans"
    spans.epoch = 0
    batch = spans([prepared[0], prepared[1]])
    alone = spans([prepared[0]])
    assert batch["anchor_input_ids"].shape[0] == 4
    width = alone["anchor_input_ids"].shape[1]
    assert (batch["anchor_input_ids"][:2, :width] == alone["anchor_input_ids"]).all()
    assert collator(model, seed=1).span_rows(prepared[0]) != rows
