"""Failed and timed-out pushes (issue #8) against the local Hub's injected faults: the release folder stays complete
and the same, the error says what to run again, and the retry uploads what is missing without a second commit."""

import hashlib

from tests.helpers.hub import assert_clean, client, client_code
from tests.helpers.runs import make_trainer
from tests.helpers.hub_server import run_client

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


def push_client(hub, home, code):
    return client(hub, home, code, prelude="import time\n" + FAST_BACKOFF + SNAPSHOT)


def hashes(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items() if name != ".gitattributes"}


def commits(hub, repo_id):
    return len(hub.repos[("model", repo_id)].commits)


def test_cli_push_survives_a_failed_commit_and_retries_without_duplicates(hub, tmp_path, tiny_encoder_dir, sentences,
                                                                           quiet_args):
    from datasets import Dataset

    from hf_contrastive import SimCSEConfig, SimCSETrainer

    model_dir = tmp_path / "model"
    args = SimCSEConfig(output_dir=str(model_dir), max_steps=1, per_device_train_batch_size=8, **quiet_args)
    trainer = SimCSETrainer(model=tiny_encoder_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
    trainer.train()
    trainer.save_model()  # with the run's card and card_data.json
    hub.fail_next("POST", r"/api/models/user/cli/commit/", status=500)
    result = client(hub, tmp_path / "home", f"""
        from hf_contrastive.cli import main
        codes = [main(["push", {str(model_dir)!r}, "user/cli"]), main(["push", {str(model_dir)!r}, "user/cli"]),
                 main(["push", {str(model_dir)!r}, "user/cli", "--revision", "dev"])]
        print(json.dumps({{"codes": codes}}))
    """)
    assert result["codes"] == [2, 0, 0]
    assert hub.injected, "the fault fired"
    release = model_dir / "release"
    local = {str(p.relative_to(release)): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    assert {"modules.json", "model.safetensors", "README.md", "1_Pooling/config.json"} <= set(local)
    remote = hub.files("user/cli")
    assert {k: v for k, v in remote.items() if k != ".gitattributes"} == local  # every file once, byte for byte
    assert hub.files("user/cli", rev="dev") == remote
    assert "# user/cli" in local["README.md"].decode() and "**SimCSE**" in local["README.md"].decode()
    commit_calls = [r for r in hub.requests if r.method == "POST" and "/commit/" in r.path]
    assert [r.status for r in commit_calls] == [500, 200]  # the push to `dev` found nothing new: no empty commit
    assert not (model_dir / "release.tmp").exists()
    assert_clean(hub, tmp_path / "home", model_dir)


def test_failed_push_message_says_what_to_retry(hub, tmp_path, tiny_encoder_dir):
    from hf_contrastive.modeling import build_sentence_transformer

    model_dir = tmp_path / "model"
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(model_dir))
    code = client_code(f"""
        from hf_contrastive.cli import main
        raise SystemExit(main(["push", {str(model_dir)!r}, "user/x"]))
    """)
    proc = run_client(hub, code, tmp_path / "home", check=False, token="hf_wrong_token", timeout=300)
    assert proc.returncode == 2
    assert "The release folder is complete and unchanged" in proc.stderr
    assert f"hf-contrastive push {model_dir} user/x" in proc.stderr and "hf_wrong_token" not in proc.stderr
    assert (model_dir / "release" / "model.safetensors").is_file()


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
        from tests.helpers.runs import make_trainer

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
        assert "run `trainer.push_to_hub(repo_id='user/flaky', timeout=2)` again to retry" in attempt["error"]
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
        assert f"run `hf-contrastive push {model_dir} user/cli --timeout 2.0` again to retry" in failed["stderr"]
    assert "HTTPStatusError: Server error '500" in result[0]["stderr"]
    assert "no answer from the Hub within 2 s" in result[1]["stderr"]
    assert result[0]["release"] == result[1]["release"] == result[2]["release"]
    assert {"modules.json", "model.safetensors", "README.md", "1_Pooling/config.json"} <= set(result[2]["release"])
    assert hashes(hub.files("user/cli")) == result[2]["release"]
    assert commits(hub, "user/cli") == 2, "the initial commit and the release's"
    assert [m for m, _ in hub.injected] == ["POST"] * 2 + ["PUT"] * 6 + ["POST"]
    assert hub.blocked == [] and hub.errors == []
