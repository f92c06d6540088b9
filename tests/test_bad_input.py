"""Bad input ends early (before training, with nothing written to `output_dir`) in an error that names the field
and the value: one table of cases, then property-based tests that random malformed rows either train or raise
from hf_contrastive's own checks, never from deep inside a library."""

import os
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, Features
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

import hf_contrastive
from hf_contrastive import (DataError, DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer,
                            SimCSEConfig, SimCSETrainer)
from hf_contrastive.cli import ConfigError, build_parser, eval_stsb, train_from_config
from hf_contrastive.evaluation.sts_suite import load_sts_task
from tests.conftest import SENTENCES

S = SENTENCES[:8]
DOCUMENTS = [" . ".join(SENTENCES[i:] + SENTENCES[:i]) for i in range(4)]  # ~230 tokens; DeCLUTR needs 16 here


@dataclass
class Env:
    model: str  # the tiny encoder's folder
    tmp: Path
    quiet: dict

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def args(self, config_class, **kwargs):
        return config_class(output_dir=str(self.out), max_steps=1, **(self.quiet | kwargs))

    def write(self, name: str, text: str) -> str:
        (self.tmp / name).write_text(text)
        return str(self.tmp / name)


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


def sts_loader(name, text):
    return lambda env: load_sts_task("STS12", file=env.write(name, text))


def cli_eval(name, text):
    """`hf-contrastive eval MODEL --sts-file FILE`: the files are read before the (here missing) model is loaded."""
    return lambda env: eval_stsb(build_parser().parse_args(["eval", str(env.tmp / "no-model"), "--splits",
                                                            "--sts-file", env.write(name, text)]))


def cli_train(config, **files):
    def run(env):
        for name, text in files.items():
            env.write(name, text)
        config_text = f"model: {env.model}\noutput_dir: {env.out}\nmax_steps: 1\nuse_cpu: true\nreport_to: none\n"
        train_from_config(env.write("config.yaml", config_text + config.format(tmp=env.tmp)), {})
    return run


def text_with(value, row, column="text"):
    """8 sentences in `column`, with `value` in row `row`."""
    return {column: [value if i == row else sentence for i, sentence in enumerate(S)]}


TSV = "sentence1\tsentence2\tscore\n"
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
     r"`per_device_train_batch_size` must be >= 2 with `contrastive_weight > 0`, got 1"),
    ("sft-negative-lambda", sft(ds(LABELLED), contrastive_weight=-0.5), ValueError,
     r"`contrastive_weight` \(λ\) must be >= 0, got -0\.5"),
    ("sft-temperature-0", sft(ds(LABELLED), temperature=0.0), ValueError, r"`temperature` must be > 0, got 0\.0"),
    ("sft-unknown-pooler", sft(ds(LABELLED), pooler="max_mean"), ValueError, r"Unknown `pooler` 'max_mean'"),
    # STS files: the suite's loader and `hf-contrastive eval`
    ("sts-loader-non-numeric-score", sts_loader("sts12.tsv", TSV + "a cat\ta dog\t4\nthe man\ta man\thigh\n"),
     DataError, r"sts12\.tsv, line 3: `score` must be a number, got 'high'"),
    ("sts-loader-empty-score", sts_loader("sts12.csv", "sentence1,sentence2,score\na cat,a dog,\n"), DataError,
     r"sts12\.csv, line 2: `score` must be a number, got ''"),
    ("sts-loader-missing-score-field", sts_loader("sts12.tsv", TSV + "a cat\ta dog\n"), DataError,
     r"sts12\.tsv, line 2: `score` must be a number, got None"),
    ("sts-loader-nan-score", sts_loader("sts12.tsv", TSV + "a cat\ta dog\tnan\n"), DataError,
     r"sts12\.tsv, line 2: `score` must be finite, got 'nan'"),
    ("sts-loader-boolean-score", sts_loader("sts12.jsonl", '{"sentence1": "a", "sentence2": "b", "score": true}\n'),
     DataError, r"sts12\.jsonl, line 1: `score` must be a number, got True"),
    ("sts-loader-constant-scores", sts_loader("sts12.tsv", TSV + "a cat\ta dog\t3\nthe man\ta man\t3\n"), DataError,
     r"`score` is 3\.0 for all 2 pairs of STS12"),
    ("cli-eval-comma-decimal-score", cli_eval("mine.tsv", TSV + "a cat\ta dog\t4,5\n"), DataError,
     r"mine\.tsv, line 2: `score` must be a number, got '4,5'"),
    ("cli-eval-missing-sentence", cli_eval("mine.jsonl", '{"sentence1": "a cat", "score": 1}\n'), DataError,
     r"mine\.jsonl, line 1: `sentence2` must be a string, got None"),
    # The command line's training data
    ("cli-train-csv-empty-text-cell",
     cli_train("train_file: {tmp}/train.csv\n", **{"train.csv": "text\na cat\n\"\"\n"}), DataError,
     r"`train_dataset` row 1: column 'text' is missing \(None\)"),
    ("cli-train-csv-missing-label",
     cli_train("method: sft_contrastive\ntrain_file: {tmp}/train.csv\n",
               **{"train.csv": "text,label\na,0\nb,1\nc,\n"}), DataError,
     r"`train_dataset` row 2: 'label' is missing \(None\)"),
    ("cli-train-malformed-csv", cli_train("train_file: {tmp}/train.csv\n", **{"train.csv": 'text\n"a cat\n'}),
     DataError, r"train\.csv' cannot be read as CSV: ParserError: .*EOF inside string"),
    ("cli-train-bad-max-train-samples",
     cli_train("train_file: {tmp}/train.txt\nmax_train_samples: lots\n", **{"train.txt": "a cat\na dog\n"}),
     ConfigError, r"config\.yaml: `max_train_samples` must be a whole number >= 1, got 'lots'"),
    ("cli-train-sts-eval-bad-score",
     cli_train("train_file: {tmp}/train.txt\nsts_eval: {tmp}/dev.tsv\n",
               **{"train.txt": "a cat\na dog\n", "dev.tsv": TSV + "a cat\ta dog\t-\n"}), DataError,
     r"dev\.tsv, line 2: `score` must be a number, got '-'"),
]


def files_in(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*")] if folder.exists() else []


@pytest.mark.parametrize("call,error,message", [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_is_named_before_training(call, error, message, tiny_encoder_dir, tmp_path, quiet_args):
    env = Env(tiny_encoder_dir, tmp_path, quiet_args)
    with pytest.raises(ValueError, match=message) as raised:
        call(env)
    assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"
    assert files_in(env.out) == [], "the failing call wrote to output_dir"


def test_the_row_scan_follows_a_selection(tiny_encoder_dir, tmp_path, quiet_args):
    """Rows that a `select` / `filter` / `shuffle` left out are not the trainer's business."""
    data = ds({"text": [None, "", *S]}).select(range(9, 1, -1))  # through an indices mapping
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=Env(tiny_encoder_dir, tmp_path, quiet_args).args(
        SimCSEConfig, per_device_train_batch_size=4), train_dataset=data)
    assert len(trainer.train_dataset) == 8


# Property-based: random malformed rows -------------------------------------------------------------------------------

LIBRARY = os.path.dirname(hf_contrastive.__file__)
NAMES = st.one_of(st.sampled_from(["text", "sentence", "sent0", "sent1", "hard_neg", "anchor", "positive", "negative",
                                   "negative_2", "label", "score", "neg", "premise", "dataset_name"]),
                  st.text(min_size=1, max_size=6))
TEXTS = st.one_of(  # usable texts, odd ones included
    st.sampled_from(SENTENCES),
    st.text(min_size=1, max_size=12).filter(str.strip),  # any unicode
    st.sampled_from(["\u200b", "\x00", "🙂", "naïve café", "[CLS] [MASK]"]),
    st.builds(lambda sentence, n: " ".join([sentence] * n), st.sampled_from(SENTENCES), st.integers(20, 300)),
)
BAD_TEXTS = st.sampled_from([None, "", " ", "\t\n", "\u3000"])
VALUES = {"text": TEXTS, "int": st.integers(-3, 4), "float": st.floats(), "bool": st.booleans(),
          "list": st.lists(st.sampled_from(SENTENCES), max_size=3), "none": st.none()}
KINDS = st.sampled_from(list(VALUES))
MUTATIONS = st.sampled_from(["rename", "add", "retype", "bad value"])


@st.composite
def mutated(draw, columns: dict, rows: int):
    """Well-formed `columns` ({name: strategy of one value}), then up to 2 mutations: a column renamed, added or of
    another type (one type per column, as pyarrow needs), or a missing, empty or blank value in one row."""
    data = {name: draw(st.lists(values, min_size=rows, max_size=rows)) for name, values in columns.items()}
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        name, mutation = draw(st.sampled_from(sorted(data))), draw(MUTATIONS)
        if mutation == "rename":
            data[draw(NAMES)] = data.pop(name)
        elif mutation in ("add", "retype"):
            data[draw(NAMES) if mutation == "add" else name] = draw(st.lists(VALUES[draw(KINDS)], min_size=rows,
                                                                             max_size=rows))
        else:
            data[name][draw(st.integers(0, rows - 1))] = draw(st.none() if name == "label" else BAD_TEXTS)
    return data


SIMCSE_COLUMNS = {"unsupervised": [["text"], ["sentence"], ["sent0"], ["passage"]],
                  "supervised": [["anchor", "positive"], ["anchor", "positive", "negative"],
                                 ["anchor", "positive", "negative", "negative_2"], ["sent0", "sent1", "hard_neg"],
                                 ["query", "passage"]]}


@st.composite
def simcse_tables(draw, mode):
    names = draw(st.sampled_from(SIMCSE_COLUMNS[mode]))
    return draw(mutated({name: TEXTS for name in names}, draw(st.integers(1, 4))))


@st.composite
def sft_tables(draw):
    names = draw(st.sampled_from([["text"], ["premise", "hypothesis"], ["question"]]))
    return draw(mutated({name: TEXTS for name in names} | {"label": st.integers(-1, 2)}, draw(st.integers(1, 4))))


@st.composite
def documents(draw):
    texts = st.one_of(st.sampled_from(DOCUMENTS), TEXTS)
    return draw(mutated({"text": texts}, draw(st.integers(1, 4))))


def trains_or_raises_our_error(make_trainer, data: dict, output_dir: Path) -> None:
    """Build the trainer on `data`; it trains one step, or raises a ValueError from hf_contrastive's own code
    (DataError for the data) before writing anything. Data that `datasets` itself refuses is no example."""
    try:
        dataset = Dataset.from_dict(data)
    except Exception:
        reject()
    try:
        trainer = make_trainer(dataset)
    except ValueError as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        assert frame.filename.startswith(LIBRARY), f"raised outside hf_contrastive: {error!r} at {frame}"
        assert files_in(output_dir) == []
        event(f"{type(error).__name__} in {os.path.basename(frame.filename)}")
        return
    trainer.train()
    event("trained")


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])


@SETTINGS
@given(mode_and_data=st.sampled_from(list(SIMCSE_COLUMNS)).flatmap(lambda mode: st.tuples(st.just(mode),
                                                                                         simcse_tables(mode))))
def test_simcse_trains_or_names_the_bad_input(tiny_encoder_dir, quiet_args, mode_and_data):
    mode, data = mode_and_data
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        args = SimCSEConfig(output_dir=str(out), mode=mode, max_steps=1, per_device_train_batch_size=4, **quiet_args)
        trains_or_raises_our_error(lambda d: SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=d),
                                   data, out)


@SETTINGS
@given(data=sft_tables(), unlabelled=st.none() | simcse_tables("unsupervised"))
def test_sft_trains_or_names_the_bad_input(tiny_encoder_dir, quiet_args, data, unlabelled):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        args = SFTContrastiveConfig(output_dir=str(out), max_steps=1, per_device_train_batch_size=4, **quiet_args)
        if unlabelled is not None:
            try:
                unlabelled = Dataset.from_dict(unlabelled)
            except Exception:
                reject()
        trains_or_raises_our_error(lambda d: SFTContrastiveTrainer(model=tiny_encoder_dir, args=args, train_dataset=d,
                                                                   unlabelled_dataset=unlabelled), data, out)


@SETTINGS
@given(data=documents(), strict=st.booleans())
def test_declutr_trains_or_names_the_bad_input(tiny_encoder_dir, quiet_args, data, strict):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        args = DeCLUTRConfig(output_dir=str(out), max_steps=1, min_span_len=2, max_span_len=4,
                             per_device_train_batch_size=2, strict_length=strict, **quiet_args)
        trains_or_raises_our_error(lambda d: DeCLUTRTrainer(model=tiny_encoder_dir, args=args, train_dataset=d),
                                   data, out)
