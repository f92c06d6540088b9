"""The forgetting study's pure parts (`python -m benchmarks.sft_forgetting`): the verdict the method is held to, and
the trade-off table and plot built from each run's evaluations along training."""

from benchmarks.sft_forgetting import RUNS, figure_for, plot_tradeoff, trajectory_table, verdict


def run(name, accuracy, stsb_dev, trajectory=()):
    return {"run": name, "accuracy": accuracy, "stsb_before": 86.0, "stsb_dev": stsb_dev,
            "trajectory": [{"step": s, "accuracy": a, "stsb_dev": d} for s, a, d in trajectory]}


def test_the_verdict_checks_equal_accuracy_and_both_stsb_changes():
    lines = verdict(run(RUNS[0], 55.0, 80.0), run(RUNS[1], 54.5, 84.5)).split("\n")[1:]
    assert [line[:3] for line in lines] == ["yes", "yes", "yes"]
    assert "(-0.50)" in lines[0] and "(-1.50)" in lines[1] and "(-6.00)" in lines[2]
    lines = verdict(run(RUNS[0], 55.0, 82.0), run(RUNS[1], 52.0, 83.0)).split("\n")[1:]
    assert [line[:3] for line in lines] == ["NO ", "NO ", "NO "]


def test_the_trajectory_table_lines_up_the_runs_by_step():
    table = trajectory_table([run(RUNS[0], 55.0, 80.0, [(50, 50.0, 84.0), (100, 55.0, 80.0)]),
                              run(RUNS[1], 54.0, 85.0, [(100, 54.0, 85.0)]),
                              run("peer", 56.0, 79.0)])
    lines = table.strip().split("\n")
    assert "peer" not in lines[0] and lines[1] == "|---:|---:|---:|"
    assert lines[2] == "| 50 | 50.00 / -2.00 | - |"
    assert lines[3] == "| 100 | 55.00 / -6.00 | 54.00 / -1.00 |"


def test_the_tradeoff_plot_draws_each_trajectory_with_its_steps(tmp_path):
    runs = [run(RUNS[0], 55.0, 80.0, [(50, 50.0, 84.0), (100, 55.0, 80.0)]), run("peer", 56.0, 79.0)]
    axes = figure_for(runs).axes[0]
    curves = {line.get_label(): line.get_xydata().tolist() for line in axes.get_lines() if line.get_marker() == "o"}
    assert curves == {RUNS[0]: [[50.0, -2.0], [55.0, -6.0]]}  # accuracy, STS-B change; the peer has no trajectory
    assert [text.get_text() for text in axes.texts] == ["50", "100"]
    assert any(line.get_ydata()[0] == -2 and line.get_linestyle() == ":" for line in axes.get_lines())  # the bound
    path = tmp_path / "tradeoff.png"
    plot_tradeoff(runs, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_benchmark_suite_runs_sft_workers_with_their_arguments(monkeypatch):
    """`python -m benchmarks --objectives sft sft-contrastive` calls this study's worker: every argument bound to
    its parameter (the seed an int, the output folder a path, the negatives the library's default)."""
    import inspect

    from benchmarks import objectives, sft_forgetting

    calls, signature = [], inspect.signature(sft_forgetting.worker)

    def record(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(bound.arguments)
        return {}

    monkeypatch.setattr(sft_forgetting, "worker", record)
    objectives.run("sft-contrastive", "ours", 3, 8, 8, 43, "out-dir", precision="bf16")
    objectives.run("sft", "peer", 3, 8, 8, 44, "out-dir")
    assert [(c["kind"], c["seed"], c["output_dir"], c["precision"]) for c in calls] == [
        (sft_forgetting.RUNS[True], 43, "out-dir", "bf16"), (sft_forgetting.PEER, 44, "out-dir", "fp32")]
    assert calls[0]["negatives"] == sft_forgetting.library_default("negatives")
