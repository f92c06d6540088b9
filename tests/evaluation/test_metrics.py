import numpy as np
import pytest
from scipy import stats

from hf_contrastive.evaluation.metrics import correlations


def test_correlations_equal_scipy():
    predictions = [0.1, 0.9, 0.4, 0.35, 0.8, 0.2]
    references = [1.0, 4.5, 2.0, 3.0, 5.0, 0.0]
    got = correlations(predictions=predictions, references=references)
    assert got["spearman"] == pytest.approx(stats.spearmanr(references, predictions)[0], abs=1e-12)
    assert got["pearson"] == pytest.approx(stats.pearsonr(references, predictions)[0], abs=1e-12)


def test_classification_metrics_match_scikit_learn_and_skip_unlabelled_rows():
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import EvalPrediction

    from hf_contrastive.evaluation.metrics import classification_metrics

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4))
    labels = rng.integers(-1, 4, size=50)
    labels[:3] = [3, 3, 3]
    metrics = classification_metrics(EvalPrediction(predictions=logits, label_ids=labels))
    keep = labels >= 0
    predictions = logits.argmax(axis=1)[keep]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels[keep], predictions))
    assert metrics["f1"] == pytest.approx(f1_score(labels[keep], predictions, average="macro"))
    assert classification_metrics(EvalPrediction(predictions=logits[:2], label_ids=np.array([-1, -1]))) == {}
