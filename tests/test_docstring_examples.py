"""The `>>>` examples in the docstrings of the package and the benchmarks run and print what they say (doctest), so
that none goes stale. Not run: the usage examples that train or load a model from the Hub (`NEEDS_A_MODEL`)."""

import doctest
import importlib
import pkgutil

import pytest

import benchmarks
import hf_contrastive

NEEDS_A_MODEL = {  # docstrings whose example builds a trainer or loads a Hub model by name
    "hf_contrastive.data.collators.DeCLUTRDataCollator",
    "hf_contrastive.losses.declutr.DeCLUTRLoss",
    "hf_contrastive.losses.sft_contrastive.SFTContrastiveLoss",
    "hf_contrastive.losses.simcse.SimCSELoss",
    "hf_contrastive.losses.supcon.SupConLoss",
    "hf_contrastive.modeling.classifier.EmbeddingClassifier",
    "hf_contrastive.trainers.declutr_trainer.DeCLUTRTrainer",
    "hf_contrastive.trainers.sft_contrastive_trainer.SFTContrastiveTrainer",
    "hf_contrastive.trainers.simcse_trainer.SimCSETrainer",
    "hf_contrastive.trainers.supcon_trainer.SupConTrainer",
}
MODULES = sorted(info.name for package in (hf_contrastive, benchmarks)
                 for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."))


def examples_of(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [test for test in doctest.DocTestFinder().find(module, module_name)
            if test.examples and test.name not in NEEDS_A_MODEL and test.name.startswith(module_name)]


def test_every_skipped_docstring_exists_and_has_examples():
    found = {test.name for name in MODULES for test in doctest.DocTestFinder().find(importlib.import_module(name))
             if test.examples}
    assert NEEDS_A_MODEL <= found


@pytest.mark.parametrize("module_name", [name for name in MODULES if examples_of(name)])
def test_docstring_examples_run(module_name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in examples_of(module_name):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
