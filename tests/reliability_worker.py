"""The small training runs of tests/test_reliability.py (`make_trainer`), and, run as a script, runs of them that are
killed (SIGKILL, no clean-up) at a chosen point, so that only what was on disk survives:

    python tests/reliability_worker.py MODEL_DIR RUNS_JSON

RUNS_JSON: a list of {"method": simcse|declutr|sft|sft-mixing, "output_dir": ..., "kill": KILL, "step": N}, KILL one of
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")

MAX_STEPS, SAVE_STEPS = 8, 2
COMMON = dict(use_cpu=True, report_to="none", logging_steps=1, disable_tqdm=True, seed=0, dataloader_drop_last=False,
              max_steps=MAX_STEPS, save_strategy="steps", save_steps=SAVE_STEPS)


def make_trainer(method: str, model_dir: str, output_dir: str, **overrides):
    """SimCSE unsupervised (dropout on, the loss-owned MLP of `mlp_only_train`), DeCLUTR (spans drawn per epoch, MLM
    head in the loss) or SFT+contrastive alternating or mixing with `labelled_per_batch` (head in the loss): 8 steps, a checkpoint every 2, 4 steps an
    epoch, so step 6 is in the middle of the second epoch."""
    from datasets import Dataset

    from hf_contrastive import (DeCLUTRConfig, DeCLUTRTrainer, SFTContrastiveConfig, SFTContrastiveTrainer,
                                SimCSEConfig, SimCSETrainer)
    from tests.conftest import SENTENCES

    settings = COMMON | dict(output_dir=output_dir) | overrides
    if method == "simcse":
        args = SimCSEConfig(**(dict(per_device_train_batch_size=8, learning_rate=1e-3, pooler="cls",
                                    mode="unsupervised") | settings))
        assert args.resolved_mlp_only_train
        return SimCSETrainer(model=model_dir, args=args, train_dataset=Dataset.from_dict({"text": SENTENCES}))
    if method == "declutr":
        documents = Dataset.from_dict({"text": [" . ".join(SENTENCES[i:] + SENTENCES[:i]) for i in range(8)]})
        args = DeCLUTRConfig(**(dict(per_device_train_batch_size=2, learning_rate=1e-3, min_span_len=4,
                                     max_span_len=24, warmup_steps=0) | settings))
        return DeCLUTRTrainer(model=model_dir, args=args, train_dataset=documents)
    if method in ("sft", "sft-mixing"):  # mixing: 5 labelled rows cycled, 2 in each batch beside 6 of 24 unlabelled
        mixing = method == "sft-mixing"
        labelled = Dataset.from_dict({"text": SENTENCES, "label": [i % 3 for i in range(len(SENTENCES))]})
        composition = dict(labelled_per_batch=2) if mixing else dict(strategy="alternating")
        args = SFTContrastiveConfig(**(dict(per_device_train_batch_size=8, learning_rate=1e-2, **composition)
                                       | settings))
        return SFTContrastiveTrainer(model=model_dir, args=args,
                                     train_dataset=labelled.select(range(5)) if mixing else labelled,
                                     unlabelled_dataset=Dataset.from_dict({"text": SENTENCES[8:] if mixing
                                                                          else SENTENCES[::-1]}))
    raise ValueError(f"unknown method {method!r}")


def poison(loss, at_call: int, value: float):
    """Make the `at_call`-th training call of `loss` return `value` (NaN or inf): in its `mlm` term when it returns
    a dict, else in the loss itself."""
    forward, calls = loss.forward, []

    def poisoned(*args, **kwargs):
        out = forward(*args, **kwargs)
        if loss.model.training:
            calls.append(1)
            if len(calls) == at_call:
                if isinstance(out, dict):
                    return {**out, "mlm": out["mlm"] * value}
                return out * value
        return out

    loss.forward = poisoned


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
    sys.path.insert(0, ROOT)
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
