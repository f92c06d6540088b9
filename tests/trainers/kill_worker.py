"""Runs of tests/helpers/runs.py (`make_trainer`) that are killed (SIGKILL, no clean-up) at a chosen point, so that
only what was on disk survives (launched by tests/trainers/test_resume.py):

    python tests/trainers/kill_worker.py MODEL_DIR RUNS_JSON

RUNS_JSON: a list of {"method": simcse|declutr|sft, "output_dir": ..., "kill": KILL, "step": N}, KILL one of
- "after_save": in `on_save` of step N (checkpoint-N written in full);
- "before_state": while saving checkpoint-N, just before its trainer_state.json (the last file) is written;
- "after_state": while saving checkpoint-N, just after its trainer_state.json is written.

The libraries are imported once; each run is a forked child (the parent computes nothing, so no thread pool is
forked half-used) and the parent prints, as one JSON line, how each child ended (`signal` 9 when it was killed).
"""

from __future__ import annotations

import json
import os
import signal
import sys

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.helpers.runs import make_trainer  # noqa: E402


def _kill() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _run(model_dir: str, run: dict) -> None:
    """Train `run` in this (child) process, which kills itself at `run["kill"]` of step `run["step"]`."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import TrainerState

    kill, step = run["kill"], run["step"]
    folder = f"checkpoint-{step}"
    if kill in ("before_state", "after_state"):
        save_to_json = TrainerState.save_to_json

        def killing_save_to_json(self, json_path):
            at_step = os.path.basename(os.path.dirname(json_path)) == folder
            if at_step and kill == "before_state":
                _kill()
            save_to_json(self, json_path)
            if at_step:
                _kill()

        TrainerState.save_to_json = killing_save_to_json

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if kill == "after_save" and state.global_step == step:
                _kill()

    trainer = make_trainer(run["method"], model_dir, run["output_dir"])
    trainer.add_callback(KillAfterSave())
    trainer.train()


def main() -> None:
    model_dir, runs = sys.argv[1], json.loads(sys.argv[2])
    import datasets  # noqa: F401  (imported once, before forking)
    import hf_contrastive.trainers.declutr_trainer  # noqa: F401
    import hf_contrastive.trainers.sft_contrastive_trainer  # noqa: F401
    import hf_contrastive.trainers.simcse_trainer  # noqa: F401

    ended = []
    for run in runs:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _run(model_dir, run)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)  # only reached when the run was not killed
        _, status = os.waitpid(pid, 0)
        ended.append({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None})
    print(json.dumps(ended))


if __name__ == "__main__":
    main()
