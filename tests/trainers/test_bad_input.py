"""Bad input to the trainers ends early (before training, with nothing written to `output_dir`) in an error that
names the field and the value: the dataset checks (columns, texts, labels) and the settings, one table of cases
(random malformed rows: test_bad_input_properties.py; STS files: tests/evaluation, the command line: test_cli.py)."""

import pytest
from datasets import ClassLabel, Dataset, Features

from hf_contrastive import (DataError, DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer,
                            SimCSEConfig, SimCSETrainer)
from tests.helpers.bad_input import DOCUMENTS, Env, S, assert_named_before_training


def ds(data, **features):
    """A Dataset from columns; `features` gives some columns' types (the rest are inferred)."""
    if not features:
        return Dataset.from_dict(data)
    inferred = Dataset.from_dict(data).features
    return Dataset.from_dict(data, features=Features({c: features.get(c, inferred[c]) for c in data}))


def simcse(data, mode="unsupervised", eval_data=None, **config):
    def run(env):
        args = env.args(SimCSEConfig, **({"mode": mode, "per_device_train_batch_size": 4} | config))
        SimCSETrainer(model=env.model, args=args, train_dataset=data, eval_dataset=eval_data)
    return run


def declutr(data, **config):
    def run(env):
        args = env.args(DeCLUTRConfig, **({"min_span_len": 2, "max_span_len": 4, "per_device_train_batch_size": 2}
                                          | config))
        DeCLUTRTrainer(model=env.model, args=args, train_dataset=data)
    return run


def simcse_with_own_loss(data):
    """A user's `loss=`: the trainer leaves the columns to it, but still checks that the texts are texts."""
    def run(env):
        from hf_contrastive import SimCSELoss
        from hf_contrastive.modeling import build_sentence_transformer

        model = build_sentence_transformer(env.model, pooler="avg")
        SimCSETrainer(model=model, args=env.args(SimCSEConfig, per_device_train_batch_size=4), train_dataset=data,
                      loss=SimCSELoss(model))
    return run


def sft(data, eval_data=None, unlabelled=None, **config):
    def run(env):
        args = env.args(SFTContrastiveConfig, **({"per_device_train_batch_size": 4} | config))
        SFTContrastiveTrainer(model=env.model, args=args, train_dataset=data, eval_dataset=eval_data,
                              unlabelled_dataset=unlabelled)
    return run


def text_with(value, row, column="text"):
    """8 sentences in `column`, with `value` in row `row`."""
    return {column: [value if i == row else sentence for i, sentence in enumerate(S)]}


LABELLED = {"text": S[:4], "label": [0, 1, 0, 1]}
PAIRS = {"premise": S[:4], "hypothesis": S[4:8], "label": [0, 1, 0, 1]}

# (id, call, expected error type, regex the message must match: it names the field and the value)
CASES = [
    ("simcse-own-loss-none-text", simcse_with_own_loss(ds({"anchor": S, "positive": [*S[:5], None, *S[6:]]})),
     DataError, r"`train_dataset` row 5: column 'positive' is missing \(None\)"),
    # SimCSE: columns
    ("simcse-unsupervised-misnamed-columns", simcse(ds({"txt": S, "id": list(range(8))})), DataError,
     r"one text column named one of \['text', 'sentence', 'sent0'\] .* has columns \['txt', 'id'\]"),
    ("simcse-supervised-misnamed-columns", simcse(ds({"query": S, "pos": S, "neg": S, "id": S}), "supervised"),
     DataError, r"Supervised SimCSE needs .* `train_dataset` has columns \['query', 'pos', 'neg', 'id'\]"),
    ("simcse-hard-negative-under-the-other-scheme",
     simcse(ds({"anchor": S, "positive": S, "hard_neg": S}), "supervised"), DataError,
     r"column\(s\) \['hard_neg'\] look like hard negatives, .* columns named 'negative', 'negative_2'"),
    ("simcse-unrecognised-extra-negative",
     simcse(ds({"sent0": S, "sent1": S, "hard_neg": S, "negative_2": S}), "supervised"), DataError,
     r"column\(s\) \['negative_2'\] look like hard negatives, .* named 'hard_neg', 'hard_neg_2'"),
    ("simcse-misspelt-negative",
     simcse(ds({"anchor": S, "positive": S, "Negatives": S, "negative_score": S}), "supervised"), DataError,
     r"column\(s\) \['Negatives'\] look like hard negatives"),
    ("simcse-reserved-column-name", simcse(ds({"score": S})), DataError,
     r"column 'score' has a name sentence-transformers reserves"),
    ("simcse-empty-dataset", simcse(ds({"text": []})), DataError, r"`train_dataset` is empty: it has no rows"),
    # SimCSE: values
    ("simcse-none-text", simcse(ds(text_with(None, 3))), DataError,
     r"`train_dataset` row 3: column 'text' is missing \(None\)\. 1 of 8 rows"),
    ("simcse-empty-text", simcse(ds(text_with("", 2))), DataError,
     r"`train_dataset` row 2: column 'text' is empty \(''\)"),
    ("simcse-whitespace-text", simcse(ds(text_with("   ", 5))), DataError,
     r"`train_dataset` row 5: column 'text' is empty \('   '\)"),
    ("simcse-unicode-whitespace-text", simcse(ds(text_with("\u3000\xa0", 0, "sentence"))), DataError,
     r"row 0: column 'sentence' is empty \('\\u3000\\xa0'\)"),
    ("simcse-bad-rows-counted", simcse(ds({"text": [None, "", "ok", " "]})), DataError,
     r"row 0: column 'text' is missing \(None\)\. 3 of 4 rows have a missing, empty or whitespace-only text"),
    ("simcse-empty-row-after-a-shuffle", simcse(ds({"text": ["a", "", "b", "c"]}).select([3, 2, 1, 0])), DataError,
     r"`train_dataset` row 2: column 'text' is empty \(''\)\. 1 of 4 rows"),
    ("simcse-int-texts", simcse(ds({"text": [1, 2, 3, 4]})), DataError,
     r"column 'text' must hold strings, found Value\('int64'\) \(row 0: 1\)"),
    ("simcse-float-positives", simcse(ds({"anchor": S[:2], "positive": [0.5, 1.5]}), "supervised"), DataError,
     r"column 'positive' must hold strings, found Value\('float64'\) \(row 0: 0\.5\)"),
    ("simcse-list-texts", simcse(ds({"text": [["a cat"], ["a dog"]]})), DataError,
     r"column 'text' must hold strings, found List\(Value\('string'\)\) \(row 0: \['a cat'\]\)"),
    ("simcse-all-none-texts", simcse(ds({"text": [None, None]})), DataError,
     r"column 'text' must hold strings, found Value\('null'\) \(row 0: None\)"),
    ("simcse-none-in-a-second-negative",
     simcse(ds({"anchor": S[:4], "positive": S[4:], "negative": S[:4], "negative_2": S[1:4] + [None]}),
            "supervised"), DataError, r"`train_dataset` row 3: column 'negative_2' is missing \(None\)"),
    ("simcse-empty-eval-text", simcse(ds({"text": S}), eval_data=ds({"text": ["a cat", ""]})), DataError,
     r"`eval_dataset` row 1: column 'text' is empty \(''\)"),
    ("simcse-sts-eval-score-none",
     simcse(ds({"text": S}), eval_data=ds({"sentence1": S[:3], "sentence2": S[3:6], "score": [1.0, None, 2.0]})),
     DataError, r"STS data 'sts-dev' row 1: `score` must be a number, got None"),
    ("simcse-sts-eval-sentence-none",
     simcse(ds({"text": S}), eval_data=ds({"sentence1": S[:2], "sentence2": [None, "a cat"], "score": [1.0, 2.0]})),
     DataError, r"STS data 'sts-dev' row 0: `sentence2` must be a string, got None"),
    # SimCSE: configuration
    ("simcse-batch-size-1", simcse(ds({"text": S}), per_device_train_batch_size=1), ValueError,
     r"`per_device_train_batch_size` must be >= 2, got 1: SimCSE contrasts each sentence with the others"),
    ("simcse-temperature-0", simcse(ds({"text": S}), temperature=0.0), ValueError,
     r"`temperature` must be > 0, got 0\.0"),
    ("simcse-unknown-pooler", simcse(ds({"text": S}), pooler="first_last"), ValueError,
     r"Unknown `pooler` 'first_last'"),
    # DeCLUTR
    ("declutr-misnamed-column", declutr(ds({"body": DOCUMENTS})), DataError,
     r"DeCLUTR needs a 'text' column of documents; `train_dataset` has columns \['body'\]"),
    ("declutr-none-document", declutr(ds({"text": DOCUMENTS[:2] + [None]})), DataError,
     r"`train_dataset` row 2: column 'text' is missing \(None\); 1 of 3 documents"),
    ("declutr-int-documents", declutr(ds({"text": [1, 2]})), DataError,
     r"column 'text' must hold strings, found Value\('int64'\) \(row 0: 1\)"),
    ("declutr-empty-dataset", declutr(ds({"text": []})), DataError, r"`train_dataset` is empty"),
    ("declutr-short-document-strict", declutr(ds({"text": [DOCUMENTS[0], "the cat sat"]}), strict_length=True),
     DataError, r"`train_dataset` row 1 has 3 tokens; DeCLUTR needs at least 16 \(.* = 2 \* 4 \* 2\)"),
    ("declutr-empty-document-strict", declutr(ds({"text": [DOCUMENTS[0], "  "]}), strict_length=True), DataError,
     r"`train_dataset` row 1 has 0 tokens; DeCLUTR needs at least 16"),
    ("declutr-all-documents-too-short", declutr(ds({"text": ["the cat sat", "", "a dog ran in the park"]})),
     DataError, r"No document in `train_dataset` has the 16 tokens DeCLUTR needs .* the longest has 6"),
    ("declutr-one-anchor-per-batch", declutr(ds({"text": DOCUMENTS}), per_device_train_batch_size=1, num_anchors=1),
     ValueError, r"at least 2 anchors for negatives; got per_device_train_batch_size=1 x num_anchors=1"),
    ("declutr-temperature-negative", declutr(ds({"text": DOCUMENTS}), temperature=-0.1), ValueError,
     r"`temperature` must be > 0, got -0\.1"),
    # SFT+contrastive: columns
    ("sft-no-label-column", sft(ds({"text": S})), DataError,
     r"needs a 'label' column of class ids; `train_dataset` has columns \['text'\]"),
    ("sft-misnamed-label-column", sft(ds({"text": S[:2], "labels": [0, 1]})), DataError,
     r"needs a 'label' column of class ids; `train_dataset` has columns \['text', 'labels'\]"),
    ("sft-three-text-columns", sft(ds({"a": S[:1], "b": S[:1], "c": S[:1], "label": [0]})), DataError,
     r"has 3 columns besides 'label': \['a', 'b', 'c'\]"),
    ("sft-reserved-text-column", sft(ds({"dataset_name": S[:2], "label": [0, 1]})), DataError,
     r"column 'dataset_name' has a name sentence-transformers reserves"),
    ("sft-empty-dataset", sft(ds({"text": [], "label": []})), DataError, r"`train_dataset` is empty"),
    # SFT+contrastive: texts
    ("sft-none-text", sft(ds({"text": [S[0], None, S[2], S[3]], "label": [0, 1, 0, 1]})), DataError,
     r"`train_dataset` row 1: column 'text' is missing \(None\)"),
    ("sft-empty-text", sft(ds({"text": S[:3] + [""], "label": [0, 1, 0, 1]})), DataError,
     r"`train_dataset` row 3: column 'text' is empty \(''\)"),
    ("sft-whitespace-second-text", sft(ds(PAIRS | {"hypothesis": S[4:6] + ["\n\t"] + S[7:8]})), DataError,
     r"`train_dataset` row 2: column 'hypothesis' is empty \('\\n\\t'\)"),
    ("sft-int-texts", sft(ds({"text": [1, 2], "label": [0, 1]})), DataError,
     r"column 'text' must hold strings, found Value\('int64'\) \(row 0: 1\)"),
    # SFT+contrastive: labels
    ("sft-label-out-of-range", sft(ds(LABELLED | {"label": [0, 1, 5, 1]}), num_labels=3), DataError,
     r"`train_dataset` row 2: label 5 is out of range for 3 classes"),
    ("sft-label-below-minus-one", sft(ds(LABELLED | {"label": [0, 1, -2, 1]})), DataError,
     r"`train_dataset` row 2: label -2 is out of range for 2 classes"),
    ("sft-float-labels", sft(ds(LABELLED | {"label": [0.5, 1.0, 0.0, 1.0]})), DataError,
     r"column 'label' must hold integer class ids, found Value\('float64'\) \(row 0: 0\.5\)"),
    ("sft-string-labels", sft(ds(LABELLED | {"label": ["pos", "neg", "pos", "neg"]})), DataError,
     r"column 'label' holds strings; SFT\+contrastive needs class ids \(row 0: 'pos'\)"),
    ("sft-bool-labels", sft(ds(LABELLED | {"label": [True, False, True, False]})), DataError,
     r"column 'label' must hold integer class ids, found Value\('bool'\) \(row 0: True\)"),
    ("sft-none-label", sft(ds(LABELLED | {"label": [0, None, 1, 0]})), DataError,
     r"`train_dataset` row 1: 'label' is missing \(None\)"),
    ("sft-none-label-in-a-float-column", sft(ds(LABELLED | {"label": [0.0, 1.0, None, 0.0]})), DataError,
     r"`train_dataset` row 2: 'label' is missing \(None\)"),
    ("sft-one-class", sft(ds(LABELLED | {"label": [0, 0, 0, 0]})), DataError,
     r"`train_dataset` has 1 class\(es\) \(largest label 0\)"),
    ("sft-eval-class-names-differ",
     sft(ds(LABELLED, label=ClassLabel(names=["neg", "pos"])),
         eval_data=ds(LABELLED, label=ClassLabel(names=["pos", "neg"]))), DataError,
     r"`eval_dataset`'s ClassLabel names \['pos', 'neg'\] differ from the training set's \['neg', 'pos'\]"),
    ("sft-eval-none-text", sft(ds(LABELLED), eval_data=ds({"text": [None, "a cat"], "label": [0, 1]})), DataError,
     r"`eval_dataset` row 0: column 'text' is missing \(None\)"),
    ("sft-unlabelled-empty-text", sft(ds(LABELLED), unlabelled=ds({"sentence": ["a cat", " "]})), DataError,
     r"`unlabelled_dataset` row 1: column 'sentence' is empty \(' '\)"),
    ("sft-unlabelled-none-text-alternating",
     sft(ds(LABELLED), unlabelled=ds({"sentence": [None, "a cat"]}), strategy="alternating"), DataError,
     r"`unlabelled_dataset` row 0: column 'sentence' is missing \(None\)"),
    # SFT+contrastive: configuration
    ("sft-batch-size-1", sft(ds(LABELLED), per_device_train_batch_size=1), ValueError,
     r"`per_device_train_batch_size` must be >= 2, got 1: with `contrastive_weight > 0`"),
    ("sft-negative-lambda", sft(ds(LABELLED), contrastive_weight=-0.5), ValueError,
     r"`contrastive_weight` \(λ\) must be >= 0, got -0\.5"),
    ("sft-temperature-0", sft(ds(LABELLED), temperature=0.0), ValueError, r"`temperature` must be > 0, got 0\.0"),
    ("sft-unknown-pooler", sft(ds(LABELLED), pooler="max_mean"), ValueError, r"Unknown `pooler` 'max_mean'"),
]


@pytest.mark.parametrize("call,error,message", [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_is_named_before_training(call, error, message, tiny_encoder_dir, tmp_path, quiet_args):
    assert_named_before_training(call, Env(tiny_encoder_dir, tmp_path, quiet_args), error, message)


def test_the_row_scan_follows_a_selection(tiny_encoder_dir, tmp_path, quiet_args):
    """Rows that a `select` / `filter` / `shuffle` left out are not the trainer's business."""
    data = ds({"text": [None, "", *S]}).select(range(9, 1, -1))  # through an indices mapping
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=Env(tiny_encoder_dir, tmp_path, quiet_args).args(
        SimCSEConfig, per_device_train_batch_size=4), train_dataset=data)
    assert len(trainer.train_dataset) == 8
