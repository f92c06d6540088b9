import pytest
from scipy import stats

from hf_contrastive.evaluation.metrics import correlations


def test_correlations_equal_scipy():
    predictions = [0.1, 0.9, 0.4, 0.35, 0.8, 0.2]
    references = [1.0, 4.5, 2.0, 3.0, 5.0, 0.0]
    got = correlations(predictions=predictions, references=references)
    assert got["spearman"] == pytest.approx(stats.spearmanr(references, predictions)[0], abs=1e-12)
    assert got["pearson"] == pytest.approx(stats.pearsonr(references, predictions)[0], abs=1e-12)
