"""Reliability (issue #8): killed runs resume to the weights of an uninterrupted run, half-written checkpoints are not
resumed from, a non-finite loss stops training with the step, failed or timed-out pushes leave the release complete
and retry cleanly, and no Hub token reaches a file or a log."""

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from hf_contrastive.errors import NonFiniteLossError
from tests.hubserver import LocalHub, run_client
from tests.reliability_worker import MAX_STEPS, make_trainer, poison

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "reliability_worker.py")
KILLED_RUNS = {  # name -> (method, how the run was killed, at which step's checkpoint)
    "simcse": ("simcse", "after_save", 6),
    "declutr": ("declutr", "after_save", 6),
    "sft": ("sft", "after_save", 6),
    "sft-mixing": ("sft-mixing", "after_save", 6),
    "simcse-half-written": ("simcse", "before_state", 6),
    "simcse-after-trainer-state": ("simcse", "after_state", 6),
}


# -- 1. killed runs --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def killed(tiny_encoder_dir, tmp_path_factory) -> dict[str, str]:
    """Every run of KILLED_RUNS, trained in a worker process and SIGKILLed there: name -> its output_dir."""
    if not hasattr(os, "fork"):
        pytest.skip("the worker forks and SIGKILLs its runs (POSIX)")
    root = tmp_path_factory.mktemp("killed")
    runs = [{"method": method, "output_dir": str(root / name), "kill": kill, "step": step}
            for name, (method, kill, step) in KILLED_RUNS.items()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, *sys.path])}
    proc = subprocess.run([sys.executable, WORKER, tiny_encoder_dir, json.dumps(runs)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ended = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [e["signal"] for e in ended] == [9] * len(runs), (ended, proc.stderr[-3000:])
    return {name: run["output_dir"] for name, run in zip(KILLED_RUNS, runs)}


class CountSteps(TrainerCallback):
    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def resume(method, model_dir, output_dir, checkpoint=True):
    trainer = make_trainer(method, model_dir, output_dir)
    counter = CountSteps()
    trainer.add_callback(counter)
    trainer.train(resume_from_checkpoint=checkpoint)
    return trainer, counter.steps


def assert_same_weights(expected, got):
    """Every tensor of the model and of the loss's own state (MLP, MLM head, classifier head), bit for bit."""
    for part, state in (("model", lambda t: t.model.state_dict()), ("loss", lambda t: t.loss_state_dict())):
        want, have = state(expected), state(got)
        assert want.keys() == have.keys() and want, part
        different = [name for name in want if not torch.equal(want[name].cpu(), have[name].cpu())]
        assert not different, f"{part} tensors differ from the uninterrupted run: {different}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_encoder_dir, tmp_path_factory):
    """The same runs, not interrupted, in this process (computed once per method)."""
    done = {}

    def get(method):
        if method not in done:
            trainer = make_trainer(method, tiny_encoder_dir, str(tmp_path_factory.mktemp(f"full-{method}")))
            trainer.train()
            done[method] = trainer
        return done[method]

    return get


@pytest.mark.parametrize("method", ["simcse", "declutr", "sft", "sft-mixing"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(method, killed, uninterrupted, tiny_encoder_dir):
    """SIGKILL right after checkpoint-6 was saved (mid second epoch); `resume_from_checkpoint=True` in a new process
    runs only steps 7 and 8 and ends with exactly the model and loss-owned weights of the run that was never killed:
    SimCSE's dropout masks and MLP, DeCLUTR's span draws and MLM head, SFT's alternation, mixed batches (the cycled
    labelled set) and head all restored."""
    output_dir = killed[method]
    assert sorted(os.listdir(output_dir)) == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    resumed, steps = resume(method, tiny_encoder_dir, output_dir)
    assert steps == [7, 8], "resumed from checkpoint-6, not restarted"
    assert resumed.model[0].auto_model.config.hidden_dropout_prob > 0, "dropout on"
    assert resumed.state.global_step == MAX_STEPS
    assert_same_weights(uninterrupted(method), resumed)


def test_a_checkpoint_half_written_by_the_kill_is_skipped(killed, uninterrupted, tiny_encoder_dir, caplog):
    """Killed while saving checkpoint-6, before its trainer_state.json (written last): transformers would resume from
    that highest-numbered folder and fail on the missing state; `resume_from_checkpoint=True` takes checkpoint-4, the
    latest complete one, and still ends with the uninterrupted weights. Naming the half-written one is an error that
    says what happened."""
    output_dir = killed["simcse-half-written"]
    half = os.path.join(output_dir, "checkpoint-6")
    assert os.path.isfile(os.path.join(half, "model.safetensors"))
    assert not os.path.exists(os.path.join(half, "trainer_state.json"))
    with pytest.raises(ValueError, match="checkpoint-6 is an incomplete checkpoint"):
        make_trainer("simcse", tiny_encoder_dir, output_dir).train(resume_from_checkpoint=half)
    with caplog.at_level(logging.WARNING, logger="hf_contrastive"):
        resumed, steps = resume("simcse", tiny_encoder_dir, output_dir)
    assert steps == [5, 6, 7, 8]
    assert f"Resuming from {output_dir}/checkpoint-4: checkpoint-6 in {output_dir} is incomplete" in caplog.text
    assert_same_weights(uninterrupted("simcse"), resumed)


def test_a_checkpoint_with_its_trainer_state_holds_the_loss_state(killed, uninterrupted, tiny_encoder_dir):
    """Killed just after checkpoint-6's trainer_state.json was written: the checkpoint is complete for transformers,
    so it must already hold the loss's own tensors (SimCSE's MLP), or the resumed run would silently restart the MLP
    from its initial values."""
    output_dir = killed["simcse-after-trainer-state"]
    assert os.path.isfile(os.path.join(output_dir, "checkpoint-6", "loss_state.safetensors"))
    resumed, steps = resume("simcse", tiny_encoder_dir, output_dir)
    assert steps == [7, 8]
    assert_same_weights(uninterrupted("simcse"), resumed)


def test_resume_true_without_a_complete_checkpoint_is_an_error(tiny_encoder_dir, tmp_path):
    (tmp_path / "checkpoint-2").mkdir()  # e.g. killed before anything of it was written
    with pytest.raises(ValueError, match="holds no complete checkpoint"):
        make_trainer("simcse", tiny_encoder_dir, str(tmp_path)).train(resume_from_checkpoint=True)


# -- 2. non-finite loss ----------------------------------------------------------------------------------------------
class Snapshots(TrainerCallback):
    """The trainable weights after each optimizer step, and the bytes of each checkpoint once saved."""

    def __init__(self, trainer):
        self.trainer, self.weights, self.saved = trainer, {}, {}

    def on_step_end(self, args, state, control, **kwargs):
        params = [*self.trainer.model.named_parameters(), *self.trainer.loss.named_parameters()]
        self.weights[state.global_step] = {n: p.detach().clone() for n, p in params}

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.saved[folder] = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", ["nan-term", "inf-loss", "accumulation"])
def test_a_nonfinite_loss_stops_training_at_its_step(case, tiny_encoder_dir, tmp_path):
    """NaN (in the MLM term of a dict loss) or inf (a plain loss) at optimizer step 3, also when step 3 is the 5th
    micro-batch under gradient accumulation: `NonFiniteLossError` names step 3, the value, each term and what to try;
    the weights are those after step 2 (the bad step updated nothing) and checkpoint-2 is byte for byte as saved."""
    accumulation = 2 if case == "accumulation" else 1
    trainer = make_trainer("simcse", tiny_encoder_dir, str(tmp_path), max_steps=4, do_mlm=case == "nan-term",
                           gradient_accumulation_steps=accumulation, per_device_train_batch_size=8 // accumulation)
    poison(trainer.loss, at_call=2 * accumulation + 1, value=float("inf") if case == "inf-loss" else float("nan"))
    snapshots = Snapshots(trainer)
    trainer.add_callback(snapshots)
    with pytest.raises(NonFiniteLossError) as raised:
        trainer.train()
    message = str(raised.value)
    assert isinstance(raised.value, FloatingPointError)
    assert "learning rate (now 0.001)" in message and "bf16 instead of fp16" in message
    assert "`stop_on_nonfinite_loss=False`" in message and str(tmp_path) in message
    assert f"The training loss is {'inf' if case == 'inf-loss' else 'nan'} at step 3" in message
    if case == "nan-term":
        assert "(terms: contrastive=" in message and "mlm=nan)" in message
    else:
        assert "terms" not in message
    assert trainer.state.global_step == 2
    after = {n: p.detach() for n, p in [*trainer.model.named_parameters(), *trainer.loss.named_parameters()]}
    assert all(torch.equal(after[n], w) for n, w in snapshots.weights[2].items()), "the bad step changed weights"
    assert all(torch.isfinite(w).all() for w in after.values())
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2"]
    [(folder, saved)] = snapshots.saved.items()
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == saved


def test_the_check_can_be_switched_off(tiny_encoder_dir, tmp_path):
    trainer = make_trainer("simcse", tiny_encoder_dir, str(tmp_path), max_steps=4, save_strategy="no",
                           stop_on_nonfinite_loss=False)
    poison(trainer.loss, at_call=3, value=float("nan"))
    trainer.train()
    assert trainer.state.global_step == 4



def test_fp16_loss_scaling_overflow_is_not_a_nonfinite_loss(tiny_encoder_dir, tmp_path):
    """Under fp16 a GradScaler multiplies the loss before backward; when the scaled loss or the gradients overflow,
    the scaler skips that optimizer step and lowers its scale, which is normal. The check reads the loss before
    scaling, so that does not stop training: with a scale of 3e38 the scaled loss is inf and every gradient is
    non-finite, and the step still returns its finite loss without an error. (No GPU here: the scaler is set by
    hand on the CPU accelerator.)"""
    trainer = make_trainer("simcse", tiny_encoder_dir, str(tmp_path), max_steps=1, save_strategy="no")
    trainer.accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=3e38)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop
    loss = trainer.training_step(trainer.model, next(iter(trainer.get_train_dataloader())))
    assert torch.isfinite(loss) and torch.isinf(loss * 3e38)
    grads = [p.grad for p in [*trainer.model.parameters(), *trainer.loss_parameters()] if p.grad is not None]
    assert grads and all(not torch.isfinite(g).all() for g in grads)

def test_under_ddp_every_process_stops_when_one_loss_is_nonfinite(tiny_encoder_dir, tmp_path):
    """torchrun, 2 CPU processes: the loss is NaN on process 1 only; both processes raise at step 3 (their losses are
    compared), naming process 1, instead of process 0 training on into a collective that never completes."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    worker = os.path.join(ROOT, "tests", "reliability_ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([ROOT, *sys.path])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), worker, tiny_encoder_dir, str(tmp_path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for rank in (0, 1):
        ended = (tmp_path / f"rank{rank}.txt").read_text()
        assert ended.startswith("NonFiniteLossError at global_step 2 (world size 2): The training loss is"), ended
        assert "at step 3 on process 1 (losses by process: " in ended and f"this is process {rank})" in ended


# -- 3. failed pushes ------------------------------------------------------------------------------------------------
FAST_BACKOFF = """
import huggingface_hub.utils._http as _http
_http.http_backoff.__kwdefaults__.update(base_wait_time=0.01, max_wait_time=0.02)  # the same 5 retries, no waiting
"""
SNAPSHOT = """
import hashlib
from pathlib import Path
def snapshot(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}
"""


@pytest.fixture()
def hub(tmp_path):
    with LocalHub(root=tmp_path / "hub") as hub:
        yield hub


def push_client(hub, home, code, **kwargs):
    prelude = f"import sys, json, time\nsys.path.insert(0, {ROOT!r})\n" + FAST_BACKOFF + SNAPSHOT
    proc = run_client(hub, prelude + textwrap.dedent(code), home, timeout=300, **kwargs)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def hashes(files: dict[str, bytes]) -> dict[str, str]:
    import hashlib

    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items() if name != ".gitattributes"}


def commits(hub, repo_id):
    return len(hub.repos[("model", repo_id)].commits)


def test_trainer_push_survives_a_failing_upload_and_a_commit_timeout(hub, tmp_path, tiny_encoder_dir):
    """`trainer.push_to_hub`: (1) the preupload call answered 500 twice (huggingface_hub retries: no error) and then
    the LFS upload of the weights 500 six times (every retry) -> PushError; (2) the commit left unanswered past the
    2 s timeout -> PushError, although the Hub finishes that commit later; (3) the retry finds everything on the Hub
    and makes no second commit. After each failure the release folder is complete and the same; the PushError names
    the folder, the retry call, and the timeout; the repo ends with exactly the release's files, in one commit."""
    hub.fail_next("POST", r"/api/models/user/flaky/preupload/main$", status=500, times=2)
    hub.fail_next("PUT", r"^/lfs-upload/", status=500, times=6)
    hub.fail_next("POST", r"/api/models/user/flaky/commit/main$", status=None, delay=6)
    out = tmp_path / "out"
    result = push_client(hub, tmp_path / "home", f"""
        from huggingface_hub import HfApi
        from hf_contrastive.hub.push import PushError
        from tests.reliability_worker import make_trainer

        trainer = make_trainer("simcse", {tiny_encoder_dir!r}, {str(out)!r}, max_steps=1, save_strategy="no")
        trainer.train()

        def attempt():
            try:
                trainer.push_to_hub(repo_id="user/flaky", timeout=2)
            except PushError as error:
                return {{"error": str(error), "release": snapshot({str(out / "release")!r})}}

        attempts = [attempt()]
        initial = HfApi().repo_info("user/flaky").sha
        attempts.append(attempt())
        deadline = time.time() + 60  # the unanswered commit lands after its delay
        while HfApi().repo_info("user/flaky").sha == initial and time.time() < deadline:
            time.sleep(0.2)
        retry = trainer.push_to_hub(repo_id="user/flaky", timeout=2)
        print(json.dumps({{"attempts": attempts, "release": snapshot({str(out / "release")!r}), "oid": retry.oid}}))
    """)
    release = str(out / "release")
    first, second = result["attempts"]
    assert first and second, "both failed pushes raised PushError"
    for attempt in (first, second):
        assert f"Uploading the release in {release} to user/flaky failed" in attempt["error"]
        assert "run `trainer.push_to_hub(repo_id='user/flaky')` again to retry" in attempt["error"]
        assert attempt["release"] == result["release"], "the release folder changed"
    assert "500" in first["error"], first["error"]
    assert "no answer from the Hub within 2 s" in second["error"]
    assert {"modules.json", "model.safetensors", "README.md", "config.json", "1_Pooling/config.json"} <= set(
        result["release"])
    assert hashes(hub.files("user/flaky")) == result["release"], "the Hub repo is the release, file for file"
    assert commits(hub, "user/flaky") == 2, "the initial commit and the release's"
    assert hub.repos[("model", "user/flaky")].refs["main"] == result["oid"]
    assert [s for _, p, s in hub.log if p.endswith("/commit/main")] == [200], "only the late commit, none after"
    assert [m for m, _ in hub.injected] == ["POST"] * 2 + ["PUT"] * 6 + ["POST"]
    assert hub.errors == [] and hub.blocked == []


def test_cli_push_survives_a_failing_upload_and_a_commit_timeout(hub, tmp_path, tiny_encoder_dir):
    """`hf-contrastive push --timeout 2`: (1) the LFS batch call answered 500 twice (retried by
    huggingface_hub) and the upload of the weights 500 six times -> exit 2; (2) the commit answered only after 4 s
    (with a 504) -> exit 2 after the 2 s timeout; (3) the retry commits. Each failure prints the folder and the
    command to run again; the release folder is the same complete folder after each; the repo ends with exactly
    its files, in one commit."""
    model_dir = tmp_path / "model"
    trainer = make_trainer("simcse", tiny_encoder_dir, str(model_dir), max_steps=1, save_strategy="no")
    trainer.train()
    trainer.save_model()
    hub.fail_next("POST", r"^/user/cli\.git/info/lfs/objects/batch$", status=500, times=2)
    hub.fail_next("PUT", r"^/lfs-upload/", status=500, times=6)
    hub.fail_next("POST", r"/api/models/user/cli/commit/main$", status=504, delay=4)
    result = push_client(hub, tmp_path / "home", f"""
        import contextlib, io
        from hf_contrastive.cli import main

        calls = []
        for _ in range(3):
            with contextlib.redirect_stderr(io.StringIO()) as err:
                code = main(["push", {str(model_dir)!r}, "user/cli", "--timeout", "2"])
            release = snapshot({str(model_dir / "release")!r})
            calls.append({{"code": code, "stderr": err.getvalue(), "release": release}})
        print(json.dumps(calls))
    """)
    assert [c["code"] for c in result] == [2, 2, 0]
    release = str(model_dir / "release")
    for failed in result[:2]:
        assert f"Uploading the release in {release} to user/cli failed" in failed["stderr"]
        assert f"run `hf-contrastive push {model_dir} user/cli` again to retry" in failed["stderr"]
    assert "HTTPStatusError: Server error '500" in result[0]["stderr"]
    assert "no answer from the Hub within 2 s" in result[1]["stderr"]
    assert result[0]["release"] == result[1]["release"] == result[2]["release"]
    assert {"modules.json", "model.safetensors", "README.md", "1_Pooling/config.json"} <= set(result[2]["release"])
    assert hashes(hub.files("user/cli")) == result[2]["release"]
    assert commits(hub, "user/cli") == 2, "the initial commit and the release's"
    assert [m for m, _ in hub.injected] == ["POST"] * 2 + ["PUT"] * 6 + ["POST"]
    assert hub.blocked == [] and hub.errors == []


# -- 4. secrets, file formats, remote code ---------------------------------------------------------------------------
ARGS_TOKEN, ENV_TOKEN = "hf_SECRETfromTheConfig0123456789", "hf_SECRETfromTheEnvironment0123456789"
SAFE_SUFFIXES = {".safetensors", ".json", ".md", ".png", ".txt", ".log"}  # data, never code
CHECKPOINT_STATE = {"optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"}  # transformers' own


def test_no_token_in_any_file_or_log_and_weights_only_as_safetensors(tmp_path, tiny_encoder_dir):
    """A run with `hub_token` in its config (and another token in HF_TOKEN), `push_to_hub=True` (transformers pushes
    each checkpoint), DEBUG logging of every library to a file, then `trainer.push_to_hub` and `hf-contrastive push`:
    neither token is in any file of output_dir (checkpoints, training_args.bin, trainer_state.json, release, card),
    in the log file, in the client's output, or in what the Hub stored; each went only in the Authorization header of
    the Hub calls. Weights are safetensors only: the only pickles are transformers' optimizer, scheduler, RNG and
    training-argument files of the checkpoints and training_args.bin of the saved model, none in the release."""
    work, log = tmp_path / "work", tmp_path / "work" / "debug.log"
    work.mkdir()
    out = work / "out"
    with LocalHub(root=tmp_path / "hub", token=None) as hub:  # any token is accepted; the requests are checked below
        proc = run_client(hub, f"import sys, json\nsys.path.insert(0, {ROOT!r})\n" + textwrap.dedent(f"""
            import logging
            import huggingface_hub.utils.logging as hub_logging
            import transformers
            handler = logging.FileHandler({str(log)!r})
            handler.setLevel(logging.DEBUG)
            for name in ("", "transformers", "sentence_transformers", "hf_contrastive", "huggingface_hub"):
                logging.getLogger(name).addHandler(handler)
                logging.getLogger(name).setLevel(logging.DEBUG)
            transformers.logging.set_verbosity_debug()
            hub_logging.set_verbosity_debug()
            from hf_contrastive.cli import main
            from tests.reliability_worker import make_trainer

            trainer = make_trainer("simcse", {tiny_encoder_dir!r}, {str(out)!r}, max_steps=4, save_steps=2,
                                   hub_token={ARGS_TOKEN!r}, push_to_hub=True, hub_model_id="user/run")
            trainer.train()
            trainer.save_model()  # with push_to_hub=True, also pushes the release to user/run
            trainer.push_to_hub(repo_id="user/release")
            print(trainer.args)
            print(json.dumps({{"cli": main(["push", {str(out)!r}, "user/cli"])}}))
        """), tmp_path / "home", timeout=300, token=ENV_TOKEN, HF_DEBUG="1")
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"cli": 0}
        assert {"user/run", "user/release", "user/cli"} <= {repo for _, repo in hub.repos}
        requests = list(hub.requests)
        hub_files = {repo: hub.files(repo) for repo in ("user/run", "user/release", "user/cli")}
        assert hub.blocked == [] and hub.errors == []

    logged = log.read_text()
    assert "(authenticated: True)" in logged and "authorization: <TOKEN>" in logged, "Hub requests were logged"
    assert "hub_token=<HUB_TOKEN>" in proc.stdout, "the config was printed"
    texts = {"client stdout": proc.stdout, "client stderr": proc.stderr}
    texts |= {str(p): p.read_bytes().decode("latin-1") for folder in (work, tmp_path / "hub", tmp_path / "home")
              for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}
    for token in (ARGS_TOKEN, ENV_TOKEN):
        assert not [where for where, text in texts.items() if token in text], f"{token} written down"
        assert all(token not in r.path + r.query for r in requests)
    authorized = {r.path.split("/")[4] if r.path.startswith("/api/models/") else None: r.token for r in requests
                  if r.method in ("POST", "PUT") and not r.path.startswith("/lfs-upload/")}
    assert authorized.get("run") == authorized.get("release") == ARGS_TOKEN and authorized.get("cli") == ENV_TOKEN
    assert all(r.token is None for r in requests if r.path.startswith("/lfs-upload/"))

    files = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    checkpoints = sorted({p.parts[0] for p in files if p.parts[0].startswith("checkpoint-")})
    assert checkpoints == ["checkpoint-2", "checkpoint-4"] and (out / "release" / "modules.json").is_file()
    others = {str(p) for p in files if p.suffix not in SAFE_SUFFIXES}
    assert others == {"training_args.bin"} | {f"{c}/{name}" for c in checkpoints for name in CHECKPOINT_STATE}
    weights = {str(p) for p in files if p.suffix == ".safetensors"}
    assert weights == {"model.safetensors", "release/model.safetensors"} | {
        f"{c}/{name}" for c in checkpoints for name in ("model.safetensors", "loss_state.safetensors")} | {
        "loss_state.safetensors"}  # copied from the last checkpoint by sentence-transformers' push of checkpoints
    for repo in ("user/release", "user/cli"):
        assert all(Path(name).suffix in SAFE_SUFFIXES | {""} for name in hub_files[repo]), hub_files[repo]
    torch.load(out / "training_args.bin", weights_only=False)  # still loads, without the token



def test_a_pickled_config_has_no_token_and_copies_keep_it(tmp_path):
    """What `training_args.bin` is made of: pickling (torch.save) drops `hub_token`; copy and deepcopy, which the
    libraries use in memory, keep it, so `push_to_hub` still authenticates with it."""
    import copy
    import io
    import pickle

    from hf_contrastive import SimCSEConfig

    args = SimCSEConfig(output_dir=str(tmp_path), hub_token=ARGS_TOKEN, learning_rate=0.25, use_cpu=True,
                        report_to="none")
    buffer = io.BytesIO()
    torch.save(args, buffer)
    assert ARGS_TOKEN.encode() not in buffer.getvalue() and ARGS_TOKEN.encode() not in pickle.dumps(args)
    loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert type(loaded) is SimCSEConfig and loaded.hub_token is None and loaded.learning_rate == 0.25
    assert copy.copy(args).hub_token == copy.deepcopy(args).hub_token == ARGS_TOKEN
    assert copy.deepcopy(args) == args

REMOTE_CODE = """open({sentinel!r}, "a").write(__name__ + "\\n")  # importing this file leaves a trace
from transformers import BertConfig, BertModel
from sentence_transformers.sentence_transformer.modules import Pooling


class EvilConfig(BertConfig):
    model_type = "bert"


class EvilModel(BertModel):
    config_class = EvilConfig


class EvilPooling(Pooling):
    pass
"""


@pytest.fixture()
def remote_code_models(tmp_path, tiny_encoder_dir):
    """A plain encoder whose config.json maps AutoConfig/AutoModel to a code file in its folder, a SentenceTransformer
    whose modules.json names a module class from a code file in its folder, and the file that importing either code
    file appends to."""
    import shutil

    from hf_contrastive import build_sentence_transformer

    sentinel = tmp_path / "imported.txt"
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    config = json.loads((encoder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    (encoder / "config.json").write_text(json.dumps(config))
    saved = tmp_path / "sentence-transformer"
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(saved))
    modules = json.loads((saved / "modules.json").read_text())
    modules[1]["type"] = "evil.EvilPooling"
    (saved / "modules.json").write_text(json.dumps(modules))
    for folder in (encoder, saved):
        (folder / "evil.py").write_text(REMOTE_CODE.format(sentinel=str(sentinel)))
    return str(encoder), str(saved), sentinel


def test_no_code_from_a_model_folder_runs_by_default(remote_code_models, sentences):
    """Building from a folder whose config.json has an `auto_map` to its own code loads the standard architecture
    and never imports that code, for every trainer and the builder; a SentenceTransformer folder naming a module class
    of its own code is refused (sentence-transformers asks for `trust_remote_code=True`). The last lines check that
    the fixture's code does run when trusted, so the absence of its trace above means something."""
    from sentence_transformers import SentenceTransformer

    from hf_contrastive import build_sentence_transformer

    encoder, saved, sentinel = remote_code_models
    model = build_sentence_transformer(encoder, pooler="avg")
    assert type(model[0].auto_model).__name__ == "BertModel"
    for method in ("simcse", "declutr", "sft"):
        trainer = make_trainer(method, encoder, str(sentinel.parent / method))
        assert type(trainer.model[0].auto_model).__name__ == "BertModel"
    for load in (lambda: build_sentence_transformer(saved), lambda: make_trainer("simcse", saved, str(sentinel))):
        with pytest.raises(ValueError, match="trust_remote_code=True"):
            load()
    assert not sentinel.exists(), "a model folder's own code was imported"

    SentenceTransformer(saved, trust_remote_code=True)  # the control: trusted, the code runs
    assert sentinel.read_text().count("evil") == 1


def test_library_never_turns_trust_remote_code_on():
    """No call in hf_contrastive passes `trust_remote_code=True` (or a variable): loading stays on the defaults of
    transformers and sentence-transformers, which are off."""
    import re

    package = Path(ROOT) / "hf_contrastive"
    found = [f"{p}:{n}" for p in package.rglob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"trust_remote_code\s*=", line)]
    assert found == []


def test_push_timeout_comes_from_the_argument_then_the_environment(monkeypatch):
    from hf_contrastive.hub.push import push_timeout

    monkeypatch.delenv("HF_CONTRASTIVE_PUSH_TIMEOUT", raising=False)
    assert push_timeout() == 120.0 and push_timeout(5) == 5.0
    monkeypatch.setenv("HF_CONTRASTIVE_PUSH_TIMEOUT", "7.5")
    assert push_timeout() == 7.5 and push_timeout(3) == 3.0
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0, got 0"):
        push_timeout(0)
