"""No Hub token reaches a file, a log or the Hub's storage, and weights are stored as safetensors only (issue #8)."""

import json
from pathlib import Path

import torch

from tests.helpers.hub import client_code
from tests.helpers.hub_server import LocalHub, run_client

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
        proc = run_client(hub, client_code(f"""
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
            from tests.helpers.runs import make_trainer

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
