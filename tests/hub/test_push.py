"""`push_release` on its own: the `HfApi` it pushes with, and its time limit (from the argument or the environment)."""

import pytest

from hf_contrastive.hub.push import push_release, push_timeout
from tests.helpers.hub import assert_clean, client
from tests.helpers.hub_server import DEFAULT_TOKEN


@pytest.fixture()
def release(tiny_encoder_dir, tmp_path):
    """A SentenceTransformer folder, as `prepare_release` writes one."""
    from hf_contrastive.modeling import build_sentence_transformer

    folder = tmp_path / "release"
    build_sentence_transformer(tiny_encoder_dir, pooler="avg").save(str(folder))
    return folder


def test_a_handed_hf_api_is_the_one_used_with_the_push_timeout(hub, tmp_path, release):
    """`push_release(..., api=HfApi(endpoint=<local Hub>, token=...))` in a process whose HF_ENDPOINT names another
    Hub and that has no HF_TOKEN: the release lands on the api's Hub with the api's token (nothing is sent
    elsewhere). The time limit holds for a handed api as well: a commit answered only after 4 s fails the first push
    after `timeout=2` with the limit named; the retry commits."""
    hub.fail_next("POST", r"/api/models/user/api/commit/main$", status=504, delay=4)
    out = client(hub, tmp_path / "home", f"""
        from huggingface_hub import HfApi, constants
        from hf_contrastive.hub.push import PushError, push_release

        api = HfApi(endpoint={hub.url!r}, token={DEFAULT_TOKEN!r})
        try:
            push_release({str(release)!r}, "user/api", api=api, timeout=2)
            first = None
        except PushError as error:
            first = str(error)
        commit = push_release({str(release)!r}, "user/api", api=api, timeout=2)
        print(json.dumps({{"endpoint": constants.ENDPOINT, "first": first, "commit_url": commit.commit_url}}))
    """, token=None, HF_ENDPOINT="https://hub.elsewhere.invalid")
    assert out["endpoint"] == "https://hub.elsewhere.invalid", "the environment named another Hub"
    assert out["first"] and "no answer from the Hub within 2 s" in out["first"]
    assert out["commit_url"].startswith(f"{hub.url}/user/api/commit/")
    local = {str(p.relative_to(release)): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    assert {k: v for k, v in hub.files("user/api").items() if k != ".gitattributes"} == local
    assert hub.injected == [("POST", "/api/models/user/api/commit/main")]
    assert len(hub.repos[("model", "user/api")].commits) == 2, "the initial commit and the release's"
    assert_clean(hub, tmp_path / "home")  # every Hub call carried the api's token; nothing went elsewhere


def test_a_handed_hf_api_and_a_token_are_an_error(release):
    from huggingface_hub import HfApi

    with pytest.raises(ValueError, match=r"token either in the HfApi \(`HfApi\(token=...\)`\) or as `token=`"):
        push_release(str(release), "user/x", api=HfApi(token="hf_one"), token="hf_other")


def test_push_timeout_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv("HF_CONTRASTIVE_PUSH_TIMEOUT", raising=False)
    assert push_timeout() == 120.0 and push_timeout(5) == 5.0
    monkeypatch.setenv("HF_CONTRASTIVE_PUSH_TIMEOUT", "7.5")
    assert push_timeout() == 7.5 and push_timeout(3) == 3.0
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0, got 0"):
        push_timeout(0)
