"""Property-based: random malformed rows either train one step or raise from hf_contrastive's own checks (before
writing anything), never from deep inside a library."""

import os
import tempfile
import traceback
from pathlib import Path

from datasets import Dataset
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

import hf_contrastive
from hf_contrastive import (DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer, SimCSEConfig,
                            SimCSETrainer)
from tests.helpers.bad_input import DOCUMENTS, files_in
from tests.helpers.encoder import SENTENCES

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
