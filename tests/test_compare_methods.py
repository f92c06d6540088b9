"""The method comparison's pure parts (`python -m benchmarks.compare_methods`): one budget for every method, SupCon's
premise classes, the settings a fresh process receives, resuming only comparable runs, and the table and plot built
from results."""

import json

import pytest

from benchmarks.compare_methods import (BASE, METHODS, QUICK, STUDY, TEXTS_PER_ROW, TITLES, batch_sizes, budget,
                                        figure_for, parse, plot, premise_classes, table)


@pytest.mark.parametrize("argv", [[], ["--quick"], ["--steps", "7", "--texts-per-step", "120"]])
def test_every_method_embeds_the_same_texts_per_step_and_in_all(argv):
    options = parse(argv)
    rows = batch_sizes(options.texts_per_step)
    assert {m: rows[m] * TEXTS_PER_ROW[m] for m in METHODS} == dict.fromkeys(METHODS, options.texts_per_step)
    assert set(budget(options.steps, options.texts_per_step).values()) == {options.steps * options.texts_per_step}


@pytest.mark.parametrize("texts", [0, 100, 18])
def test_a_budget_some_method_cannot_split_is_refused_naming_the_value(texts):
    with pytest.raises(ValueError, match=f"multiple of 12.*got {texts}"):
        parse(["--texts-per-step", str(texts)])


def test_bad_settings_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="`--max-train-rows`.*got 1"):
        parse(["--max-train-rows", "1"])
    with pytest.raises(ValueError, match="`--steps`.*got 0"):
        parse(["--steps", "0"])


def test_quick_is_the_smoke_configuration():
    options = parse(["--quick", "--steps", "50"])
    assert {name: getattr(options, name) for name in QUICK} == QUICK


def test_a_fresh_process_receives_the_same_settings():
    options = parse(["--steps", "5", "--texts-per-step", "48", "--seed", "3", "--max-train-rows", "0",
                     "--transfer-tasks", "MR", "TREC", "--sts-dir", "some/dir", "--output-dir", "out"])
    received = parse(["--worker", "supcon", *STUDY.worker_arguments(options)])
    assert received.worker == "supcon" and STUDY.settings_of(received) == STUDY.settings_of(options)
    assert received.output_dir == "out"
    defaults = parse([])
    received = parse(["--worker", BASE, *STUDY.worker_arguments(defaults)])
    assert STUDY.settings_of(received) == STUDY.settings_of(defaults)


def test_rows_that_share_a_premise_share_a_supcon_class():
    premises = ["a", "b", "a", "c", "b"]
    classes = premise_classes(premises)
    assert classes == [0, 1, 0, 3, 1]
    assert all((classes[i] == classes[j]) == (premises[i] == premises[j]) for i in range(5) for j in range(5))


def test_resume_keeps_only_runs_made_with_the_same_settings(tmp_path):
    options = parse(["--quick", "--output-dir", str(tmp_path)])
    same, other = STUDY.settings_of(options), STUDY.settings_of(parse(["--output-dir", str(tmp_path)]))
    runs = [{"method": BASE, "settings": same}, {"method": "supcon", "settings": other}]
    (tmp_path / "results.json").write_text(json.dumps(runs))
    assert STUDY.open_results(options).reusable == []  # without --resume nothing is kept
    options.resume = True
    assert STUDY.open_results(options).reusable == [runs[0]]
    options.output_dir = str(tmp_path / "new")
    assert STUDY.open_results(options).reusable == []


def fake(method, dev, transfer, trained=True, sts=None):
    result = {"method": method, "stsb": {"dev": dev, "test": dev - 2},
              "transfer": {"MR": transfer, "TREC": transfer + 10}, "transfer_average": transfer + 5}
    if sts is not None:
        result |= {"sts_suite": {"STS12": sts, "SICK-R": sts + 4}, "sts_average": sts + 2}
    return result | ({"seconds": 61.4, "peak_memory_mib": 2048.0} if trained else {})


def test_the_table_has_the_base_then_the_methods_and_every_score_column():
    results = [fake("supcon", 80.0, 70.0), fake(BASE, 82.123, 75.0, trained=False), fake("simcse-unsup", 81.0, 72.0)]
    lines = table(results).splitlines()
    assert lines[0] == "| method | STS-B dev | STS-B test | MR | TREC | transfer avg | train s | peak RSS MiB |"
    assert lines[1].count("|") == lines[0].count("|")
    assert lines[2] == "| base (all-MiniLM-L6-v2) | 82.12 | 80.12 | 75.00 | 85.00 | 80.00 | - | - |"
    assert lines[3].startswith("| SimCSE unsup.") and lines[4].startswith("| SupCon")
    assert lines[4].endswith("| 80.00 | 78.00 | 70.00 | 80.00 | 75.00 | 61 | 2,048 |")


def test_the_sts_suite_adds_its_tasks_and_average():
    header = table([fake(BASE, 82.0, 75.0, trained=False, sts=70.0)]).splitlines()[0]
    assert "| STS-B test | STS12 | SICK-R | STS avg | MR |" in header


def test_the_plot_has_a_bar_per_model_and_score_in_table_order(tmp_path):
    results = [fake("declutr", 81.0, 74.0), fake(BASE, 82.0, 75.0, trained=False)]
    axis = figure_for(results).axes[0]
    ticks = [t.get_text() for t in axis.get_xticklabels()]
    assert ticks == ["STS-B dev", "STS-B test", "MR", "TREC", "transfer avg"]
    bars = {container.get_label(): [bar.get_height() for bar in container] for container in axis.containers}
    assert bars == {TITLES[BASE]: [82.0, 80.0, 75.0, 85.0, 80.0], TITLES["declutr"]: [81.0, 79.0, 74.0, 84.0, 79.0]}
    assert list(bars) == [TITLES[BASE], TITLES["declutr"]]  # base first, as in the table
    assert axis.get_ylim()[0] == 64.0  # 10 below the lowest score
    path = tmp_path / "compare_methods.png"
    plot(results, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
