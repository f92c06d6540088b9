"""Round trips between the real huggingface_hub / sentence-transformers clients and the local Hub
(tests/helpers/hub_server.py).

The client side runs in a subprocess: huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE at import, and conftest
has already made this process offline. Each client prints one JSON line, the last of its stdout (tests/helpers/hub.py).
"""

import hashlib
import os

import numpy as np
import pytest

from tests.helpers.hub import assert_clean, client
from tests.helpers.hub_server import DEFAULT_TOKEN as TOKEN
from tests.helpers.hub_server import LocalHub


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_upload_folder_round_trip_with_lfs_and_unchanged_files_skipped(hub, tmp_path):
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    local = {
        "README.md": b"# A test repo\n",
        "notes.txt": b"plain text\n" * 10,
        "sub/config.json": b'{"a": 1}\n',
        "empty.txt": b"",
        "weights.bin": os.urandom(200_000),  # LFS by the .gitattributes rule *.bin
        "blob.dat": b"\0" + os.urandom(1_100_000),  # LFS: binary and over 1 MB
    }
    for name, data in local.items():
        (folder / name).write_bytes(data)
    out = client(hub, tmp_path / "home", f"""
        import hashlib, json
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        url = api.create_repo("user/data")
        first = api.upload_folder(folder_path={str(folder)!r}, repo_id="user/data")
        files = api.list_repo_files("user/data")
        got = {{f: hashlib.sha256(open(hf_hub_download("user/data", f), "rb").read()).hexdigest() for f in files}}
        second = api.upload_folder(folder_path={str(folder)!r}, repo_id="user/data")
        info = api.model_info("user/data", files_metadata=True)
        lfs = sorted(s.rfilename for s in info.siblings if s.lfs)
        print(json.dumps(dict(url=url, first=first.oid, second=second.oid, sha=info.sha, got=got, lfs=lfs)))
    """)
    assert out["url"] == f"{hub.url}/user/data"
    assert out["got"] == {".gitattributes": out["got"][".gitattributes"], **{k: sha256(v) for k, v in local.items()}}
    assert out["first"] == out["second"] == out["sha"]  # the second upload made no commit
    assert out["lfs"] == ["blob.dat", "weights.bin"]
    assert {p: d for p, d in hub.files("user/data").items() if p != ".gitattributes"} == local
    calls = [(method, path) for method, path, _ in hub.log]
    assert len([path for method, path in calls if method == "PUT"]) == 2  # the re-upload sent no bytes...
    assert calls.count(("POST", "/user/data.git/info/lfs/objects/batch")) == 2  # ...though it asked the LFS batch
    assert calls.count(("POST", "/api/models/user/data/commit/main")) == 1
    assert all(status < 400 for _, _, status in hub.log)
    assert_clean(hub, tmp_path / "home")


def test_text_file_over_the_size_threshold_goes_to_lfs(tmp_path):
    with LocalHub(root=tmp_path / "hub", lfs_threshold=50_000) as hub:
        client(hub, tmp_path / "home", """
            from huggingface_hub import HfApi
            api = HfApi()
            api.create_repo("user/big")
            api.upload_file(path_or_fileobj=b"word " * 20_000, path_in_repo="big.txt", repo_id="user/big")
            api.upload_file(path_or_fileobj=b"word " * 100, path_in_repo="small.txt", repo_id="user/big")
            print("{}")
        """)
        files = hub.repos[("model", "user/big")]
        head = files.commits[files.refs["main"]].files
        assert head["big.txt"].lfs == sha256(b"word " * 20_000) and head["small.txt"].lfs is None
        assert hub.files("user/big")["big.txt"] == b"word " * 20_000
        assert_clean(hub, tmp_path / "home")


def test_sentence_transformer_push_to_hub_and_load_back(hub, tmp_path, tiny_encoder_dir, sentences):
    push = client(hub, tmp_path / "home-push", f"""
        import json, numpy as np
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer({tiny_encoder_dir!r})
        np.save({str(tmp_path / "local.npy")!r}, model.encode({sentences[:5]!r}))
        print(json.dumps(dict(url=model.push_to_hub("user/tiny", exist_ok=True))))
    """, timeout=240)
    assert push["url"].startswith(f"{hub.url}/user/tiny/commit/")
    files = hub.files("user/tiny")
    assert {"modules.json", "README.md", "config.json", "model.safetensors", "tokenizer.json",
            "1_Pooling/config.json"} <= set(files)
    head = hub.repos[("model", "user/tiny")]
    assert head.commits[head.refs["main"]].files["model.safetensors"].lfs is not None

    client(hub, tmp_path / "home-load", f"""
        import numpy as np
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer("user/tiny")
        np.save({str(tmp_path / "hub.npy")!r}, model.encode({sentences[:5]!r}))
        print("{{}}")
    """, timeout=240)
    local, remote = np.load(tmp_path / "local.npy"), np.load(tmp_path / "hub.npy")
    assert local.shape == remote.shape == (5, 16)
    np.testing.assert_allclose(remote, local, atol=1e-6)
    assert not (tmp_path / "home-push" / "hub" / "models--user--tiny" / "snapshots").exists()  # nothing downloaded
    assert (tmp_path / "home-load" / "hub" / "models--user--tiny" / "snapshots").is_dir()
    assert any(p.endswith("/model.safetensors") for m, p, s in hub.log if m == "GET" and s == 200)
    assert_clean(hub, tmp_path / "home-push", tmp_path / "home-load")


def test_branch_pull_request_and_parent_commit(hub, tmp_path):
    out = client(hub, tmp_path / "home", """
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        read = lambda rev: open(hf_hub_download("user/rev", "file.txt", revision=rev)).read()
        api.create_repo("user/rev")
        c1 = api.upload_file(path_or_fileobj=b"main v1", path_in_repo="file.txt", repo_id="user/rev")
        api.create_branch("user/rev", branch="dev")
        api.create_branch("user/rev", branch="dev", exist_ok=True)
        try:
            api.create_branch("user/rev", branch="dev")
            dup = None
        except HfHubHTTPError as e:
            dup = e.response.status_code
        c2 = api.upload_file(path_or_fileobj=b"dev v2", path_in_repo="file.txt", repo_id="user/rev", revision="dev")
        api.upload_file(path_or_fileobj=b"only on dev", path_in_repo="dev.txt", repo_id="user/rev", revision="dev")
        pr = api.upload_file(path_or_fileobj=b"pr v3", path_in_repo="file.txt", repo_id="user/rev", create_pr=True)
        out = dict(main=read("main"), dev=read("dev"), pr=read(pr.pr_revision), c1=read(c1.oid),
                   pr_revision=pr.pr_revision, pr_num=pr.pr_num, pr_url=pr.pr_url,
                   main_files=api.list_repo_files("user/rev"),
                   dev_files=api.list_repo_files("user/rev", revision="dev"),
                   dev_sha=api.model_info("user/rev", revision="dev").sha, c2=c2.oid, dup=dup)
        api.upload_file(path_or_fileobj=b"main v4", path_in_repo="file.txt", repo_id="user/rev", parent_commit=c1.oid)
        try:
            api.upload_file(path_or_fileobj=b"stale", path_in_repo="file.txt", repo_id="user/rev",
                            parent_commit=c1.oid)
            out["stale"] = None
        except HfHubHTTPError as e:
            out["stale"] = e.response.status_code
        out["main_after"] = read("main")
        print(json.dumps(out))
    """)
    assert (out["main"], out["dev"], out["pr"], out["c1"]) == ("main v1", "dev v2", "pr v3", "main v1")
    assert out["pr_revision"] == "refs/pr/1" and out["pr_num"] == 1
    assert out["pr_url"] == f"{hub.url}/user/rev/discussions/1"
    assert out["main_files"] == [".gitattributes", "file.txt"]
    assert out["dev_files"] == [".gitattributes", "dev.txt", "file.txt"]
    assert out["dev_sha"] != out["c2"]  # one more commit on dev after c2
    assert out["dup"] == 409 and out["stale"] == 412 and out["main_after"] == "main v4"
    repo = hub.repos[("model", "user/rev")]
    assert set(repo.refs) == {"main", "dev", "refs/pr/1"}
    assert len(set(repo.commits)) == len(repo.commits) == 6  # initial, c1, 2 on dev, PR, v4
    assert all(len(oid) == 40 for oid in repo.commits)
    assert_clean(hub, tmp_path / "home")


def test_missing_repo_file_and_revision_raise_the_client_exceptions(hub, tmp_path):
    out = client(hub, tmp_path / "home", """
        import json
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        api.create_repo("user/err")
        api.create_repo("user/secret", private=True)

        def outcome(call):
            try:
                result = call()
                return ["ok", str(result)]
            except Exception as e:
                status = getattr(getattr(e, "response", None), "status_code", None)
                return [[c.__name__ for c in type(e).__mro__], status]

        print(json.dumps(dict(
            missing_repo=outcome(lambda: hf_hub_download("user/nope", "x.txt")),
            missing_file=outcome(lambda: hf_hub_download("user/err", "nope.txt")),
            missing_revision=outcome(lambda: hf_hub_download("user/err", ".gitattributes", revision="nope")),
            info_missing_repo=outcome(lambda: api.model_info("user/nope")),
            info_missing_revision=outcome(lambda: api.model_info("user/err", revision="nope")),
            create_existing=outcome(lambda: api.create_repo("user/err")),
            create_existing_ok=outcome(lambda: api.create_repo("user/err", exist_ok=True)),
            private_anonymous=outcome(lambda: api.model_info("user/secret", token=False)),
            private_with_token=outcome(lambda: api.model_info("user/secret").private),
            write_anonymous=outcome(lambda: api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt",
                                                            repo_id="user/err", token=False)),
            wrong_token=outcome(lambda: api.model_info("user/err", token="hf_wrong")),
            delete_missing=outcome(lambda: api.delete_file("nope.txt", "user/err")),
        )))
    """)
    assert "RepositoryNotFoundError" in out["missing_repo"][0] and out["missing_repo"][1] == 404
    assert "EntryNotFoundError" in out["missing_file"][0] and out["missing_file"][1] == 404
    assert "RevisionNotFoundError" in out["missing_revision"][0]
    assert "RepositoryNotFoundError" in out["info_missing_repo"][0]
    assert "RevisionNotFoundError" in out["info_missing_revision"][0]
    assert "HfHubHTTPError" in out["create_existing"][0] and out["create_existing"][1] == 409
    assert out["create_existing_ok"] == ["ok", f"{hub.url}/user/err"]
    assert "RepositoryNotFoundError" in out["private_anonymous"][0] and out["private_anonymous"][1] == 401
    assert out["private_with_token"] == ["ok", "True"]
    assert "HfHubHTTPError" in out["write_anonymous"][0] and out["write_anonymous"][1] == 401
    assert "RepositoryNotFoundError" not in out["wrong_token"][0] and out["wrong_token"][1] == 401
    assert "EntryNotFoundError" in out["delete_missing"][0]
    assert hub.files("user/err").keys() == {".gitattributes"}
    assert hub.blocked == [] and hub.errors == []
    assert {r.token for r in hub.requests} == {TOKEN, None, "hf_wrong"}


def test_injected_faults_failed_commit_then_retry_and_a_hung_head(hub, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    local = {"a.txt": b"alpha\n", "model.safetensors": os.urandom(50_000)}
    for name, data in local.items():
        (folder / name).write_bytes(data)
    hub.fail_next("PUT", r"^/lfs-upload/", status=500)  # S3 hiccup: the client retries the PUT itself
    hub.fail_next("POST", r"/commit/main$", status=500)  # the commit is not retried: the call raises
    out = client(hub, tmp_path / "home", f"""
        import json
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        api.create_repo("user/flaky")
        try:
            api.upload_folder(folder_path={str(folder)!r}, repo_id="user/flaky")
            first = None
        except HfHubHTTPError as e:
            first = e.response.status_code
        second = api.upload_folder(folder_path={str(folder)!r}, repo_id="user/flaky").oid
        print(json.dumps(dict(first=first, second=second, files=api.list_repo_files("user/flaky"))))
    """)
    assert out["first"] == 500
    assert out["files"] == [".gitattributes", "a.txt", "model.safetensors"]
    repo = hub.repos[("model", "user/flaky")]
    assert repo.refs["main"] == out["second"] and len(repo.commits) == 2  # initial + the one that succeeded
    assert {p: d for p, d in hub.files("user/flaky").items() if p != ".gitattributes"} == local
    assert [s for m, p, s in hub.log if m == "PUT"] == [500, 200]
    assert [s for m, p, s in hub.log if p.endswith("/commit/main")] == [500, 200]
    assert [m for m, p in hub.injected] == ["PUT", "POST"]

    # A HEAD that hangs past the client's timeout (1 s): hf_hub_download retries with a longer timeout
    hub.fail_next("HEAD", r"/resolve/main/a\.txt$", status=None, delay=30)
    got = client(hub, tmp_path / "home2", """
        import json
        from huggingface_hub import hf_hub_download
        print(json.dumps(open(hf_hub_download("user/flaky", "a.txt"), "rb").read().decode()))
    """, hub_timeout=1)
    assert got == "alpha\n"
    assert hub.injected[-1] == ("HEAD", "/user/flaky/resolve/main/a.txt")
    assert ("HEAD", "/user/flaky/resolve/main/a.txt", 200) in hub.log
    assert_clean(hub, tmp_path / "home", tmp_path / "home2")


def test_requests_leaving_the_machine_are_refused_and_recorded(hub, tmp_path):
    out = client(hub, tmp_path / "home", """
        import json, urllib.request
        from huggingface_hub import HfApi
        from huggingface_hub.utils import get_session
        seen = []
        for call in (lambda: HfApi(endpoint="https://huggingface.co").model_info("user/x"),
                     lambda: get_session().get("http://example.com/x").raise_for_status(),
                     lambda: urllib.request.urlopen("http://example.org/y", timeout=5)):
            try:
                call()
                seen.append("ok")
            except Exception as e:
                seen.append(type(e).__name__)
        print(json.dumps(seen))
    """)
    assert out == ["ProxyError", "HTTPStatusError", "HTTPError"]
    assert hub.blocked == ["CONNECT huggingface.co:443", "GET http://example.com/x", "GET http://example.org/y"]
    assert all(status == 403 for _, _, status in hub.log)


def test_server_bounds_body_limit_request_limit_chunked_bodies_and_a_quick_stop(tmp_path):
    import http.client
    import time

    def call(hub, method, path, body=None, headers=None, chunked=False):
        conn = http.client.HTTPConnection(hub.url.split("//")[1], timeout=5)
        headers = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, response.read()

    with LocalHub(root=tmp_path / "hub", max_body=1000, max_requests=6) as hub:
        assert call(hub, "POST", "/api/validate-yaml", b"x" * 1001)[0] == 413
        assert call(hub, "POST", "/api/validate-yaml", iter([b'{"content": ', b'"x"}']), chunked=True)[0] == 200
        assert call(hub, "POST", "/api/repos/create", b'{"name": "r", "organization": "user"}')[0] == 200
        status, body = call(hub, "POST", "/api/models/user/r/preupload/main", b'{"files": [{}]}')
        assert status == 500 and b"KeyError" in body and len(hub.errors) == 1  # an unexpected body is reported
        assert call(hub, "GET", "/nowhere")[0] == 404
        assert call(hub, "GET", "/api/models/user/r")[0] == 200
        assert call(hub, "GET", "/api/models/user/r")[0] == 403  # the 7th request: over max_requests

    with LocalHub(root=tmp_path / "hub2") as hub:
        hub.fail_next("GET", "/api/whoami-v2", status=None, delay=60)
        conn = http.client.HTTPConnection(hub.url.split("//")[1], timeout=0.5)
        conn.request("GET", "/api/whoami-v2")
        with pytest.raises(TimeoutError):
            conn.getresponse()
        start = time.monotonic()
    assert time.monotonic() - start < 3  # stop() did not wait for the hung request
    assert hub.injected == [("GET", "/api/whoami-v2")]
