"""A local Hugging Face Hub for tests: the HTTP calls huggingface_hub 2.4 makes, served from a temporary folder.

Stdlib only. One `ThreadingHTTPServer` on 127.0.0.1 (ephemeral port) serves the Hub API, the git-LFS "basic"
transfer and the `resolve` downloads. Repos hold real commits (a new 40-hex oid each), branches and `refs/pr/N`.
The same port is the HTTP(S) proxy of the clients under test: anything aimed at another host is refused (403) and
recorded in `hub.blocked`.

    with LocalHub(root=tmp_path) as hub:
        run_client(hub, "from huggingface_hub import HfApi; HfApi().create_repo('user/x')", tmp_path / "home")
        assert hub.blocked == [] and ("POST", "/api/repos/create", 200) in hub.log

huggingface_hub reads `HF_ENDPOINT` and `HF_HUB_OFFLINE` at import, and tests/conftest.py sets offline mode before
that, so the client side runs in a subprocess (`run_client`, environment from `LocalHub.client_env`).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TOKEN = "hf_fake_test_token"
LFS_ATTRIBUTES = "".join(  # the .gitattributes of a new repo on huggingface.co (its LFS rules decide `uploadMode`)
    f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in (
        "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy *.npz "
        "*.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* *.tar.* *.tar "
        "*.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*").split())
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_sha1(data: bytes, kind: str = "blob") -> str:
    """The git object id of `data` (what the Hub calls `oid`/`blobId` for a regular file)."""
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class HubError(Exception):
    """An error answer: status, `X-Error-Code` (what the client maps to an exception class) and message."""

    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None, **body):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.body = status, code, message, headers or {}, body


class Request(NamedTuple):
    method: str
    path: str  # without the query string
    status: int
    token: str | None  # the Bearer token of the request, if any
    query: str = ""


@dataclass
class Entry:
    """A file in a commit: its git blob oid (of the LFS pointer for an LFS file), size and LFS sha256."""

    oid: str
    size: int
    lfs: str | None = None


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    date: str
    files: dict[str, Entry]


@dataclass
class Repo:
    type: str
    id: str
    private: bool
    created_at: str
    refs: dict[str, str] = field(default_factory=dict)  # branch or "refs/pr/N" -> commit oid
    commits: dict[str, Commit] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)  # LFS objects (sha256) uploaded to this repo
    prs: int = 0

    def resolve(self, rev: str) -> str:
        rev = rev.removeprefix("refs/heads/")
        if rev in self.refs:
            return self.refs[rev]
        if re.fullmatch(r"[0-9a-f]{40}", rev) and rev in self.commits:
            return rev
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")


class _Drop(Exception):
    """Close the connection without an answer."""


class _Fault(NamedTuple):
    method: str
    path: re.Pattern
    status: int | None
    delay: float


class LocalHub:
    """The local Hub. `token`: the only valid token (`None` accepts any); `require_token`: writes need one.

    Bounds: `max_body` bytes per request body (413 above), `max_requests` requests in all (403 after),
    `socket_timeout` seconds per blocking read on a connection.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, token: str | None = DEFAULT_TOKEN,
                 require_token: bool = True, lfs_threshold: int = 10 * 1024**2, max_body: int = 64 * 1024**2,
                 max_requests: int = 5000, socket_timeout: float = 30.0, username: str = "user"):
        self._tmp = None if root is not None else tempfile.mkdtemp(prefix="localhub-")
        self.root = Path(root if root is not None else self._tmp)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        self.token, self.require_token, self.username = token, require_token, username
        self.lfs_threshold, self.max_body, self.max_requests = lfs_threshold, max_body, max_requests
        self.socket_timeout = socket_timeout
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[Request] = []
        self.blocked: list[str] = []  # "CONNECT host:port" or "METHOD absolute-url" of refused proxy requests
        self.injected: list[tuple[str, str]] = []  # (method, path) of the requests that met a `fail_next` fault
        self.errors: list[str] = []  # tracebacks of requests that broke a handler (answered 500)
        self.lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._tickets: dict[str, tuple[tuple[str, str], str, int]] = {}  # LFS upload href -> (repo, sha256, size)
        self._counter = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> "LocalHub":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="LocalHub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test helpers ------------------------------------------------------------------------------------------
    @property
    def log(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request so far, in order of the answers."""
        with self.lock:
            return [(r.method, r.path, r.status) for r in self.requests]

    def fail_next(self, method: str, path_regex: str, status: int | None = 500, times: int = 1,
                  delay: float = 0.0) -> None:
        """The next `times` requests `method` whose path matches `path_regex` (re.search) wait `delay` seconds,
        then get `status` with a JSON error (or, with `status=None`, their normal answer: a delay longer than the
        client's timeout is a hang)."""
        with self.lock:
            self._faults += [_Fault(method.upper(), re.compile(path_regex), status, delay)] * times

    def client_env(self, hf_home: str | os.PathLike, token: str | None = DEFAULT_TOKEN, hub_timeout: int = 10,
                   **extra: str) -> dict[str, str]:
        """Environment for a client process: Hub at this server, online, no Xet, fresh `HF_HOME`, every proxy
        variable pointing here (so an escape shows up in `blocked`), Hub timeouts of `hub_timeout` seconds."""
        drop = ("_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE", "HF_XET_CACHE", "HF_TOKEN_PATH",
                "TRANSFORMERS_CACHE", "SENTENCE_TRANSFORMERS_HOME", "HF_DATASETS_CACHE", "_PROXY", "_proxy")
        env = {k: v for k, v in os.environ.items() if not k.endswith(drop)}
        env.update(HF_ENDPOINT=self.url, HF_HUB_OFFLINE="0", HF_HOME=str(hf_home), HF_HUB_DISABLE_XET="1",
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1", TOKENIZERS_PARALLELISM="false",
                   HF_HUB_ETAG_TIMEOUT=str(int(hub_timeout)), HF_HUB_DOWNLOAD_TIMEOUT=str(int(hub_timeout)),
                   NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[name] = env[name.lower()] = self.url
        if token is not None:
            env["HF_TOKEN"] = token
        env.update(extra)
        return env

    def files(self, repo_id: str, rev: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """Path -> content of every file of `repo_id` at `rev`."""
        with self.lock:
            repo = self.repos[(repo_type, repo_id)]
            return {p: self._read(e) for p, e in repo.commits[repo.resolve(rev)].files.items()}

    # -- storage -----------------------------------------------------------------------------------------------
    def _store(self, data: bytes, key: str) -> None:
        path = self.root / "objects" / key
        if not path.exists():
            path.write_bytes(data)

    def _read(self, entry: Entry) -> bytes:
        return (self.root / "objects" / (entry.lfs or entry.oid)).read_bytes()

    def _add_file(self, data: bytes) -> Entry:
        entry = Entry(git_sha1(data), len(data))
        self._store(data, entry.oid)
        return entry

    def _commit(self, repo: Repo, parent: str | None, files: dict[str, Entry], title: str, message: str) -> str:
        self._counter += 1
        tree = git_sha1("".join(f"{p}\0{e.oid}\n" for p, e in sorted(files.items())).encode(), "tree")
        oid = git_sha1(f"tree {tree}\nparent {parent}\nserial {self._counter}\n\n{title}\n\n{message}".encode(),
                       "commit")
        repo.commits[oid] = Commit(oid, parent, title, message, _now(), dict(files))
        return oid

    def _save(self) -> None:
        """Refs, commits and file lists to `root/state.json` (the bytes are in `root/objects/`), for a look."""
        (self.root / "state.json").write_text(json.dumps(
            {f"{t}:{i}": asdict(r) | {"lfs": sorted(r.lfs)} for (t, i), r in self.repos.items()}, indent=1))


class _Server(ThreadingHTTPServer):
    """Keeps its open connections so that `stop()` can close keep-alive ones."""

    daemon_threads = True
    hub: LocalHub

    def __init__(self, *args):
        self.connections: set[socket.socket] = set()
        super().__init__(*args)

    def get_request(self):
        sock, addr = super().get_request()
        self.connections.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        """A connection reset or timed out between requests is no news; anything else goes to `hub.errors`."""
        if not isinstance(sys.exc_info()[1], OSError):
            with self.hub.lock:
                self.hub.errors.append(traceback.format_exc())

    def close_connections(self):
        for sock in list(self.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


_REPO = r"(?P<repo>[^/]+/[^/]+?)"
_API = rf"/api/(?P<type>models|datasets|spaces)/{_REPO}"
_GIT = rf"/(?:(?P<prefix>datasets|spaces)/)?{_REPO}"
ROUTES = [  # (methods, path regex, handler): paths are matched still percent-encoded, groups unquoted after
    ("POST", r"/api/repos/create", "create_repo"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("GET", r"/api/whoami-v2", "whoami"),
    ("GET", rf"{_API}(?:/revision/(?P<rev>.+))?", "repo_info"),
    ("GET", rf"{_API}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
    ("POST", rf"{_API}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"{_API}/commit/(?P<rev>[^/]+)", "commit"),
    ("POST", rf"{_API}/branch/(?P<rev>[^/]+)", "create_branch"),
    ("POST", rf"{_GIT}\.git/info/lfs/objects/batch", "lfs_batch"),
    ("POST", rf"{_GIT}\.git/info/lfs/objects/verify", "lfs_verify"),
    ("PUT", r"/lfs-upload/(?P<ticket>[0-9a-f]{32})", "lfs_upload"),
    ("GET HEAD", rf"{_GIT}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Hub; every answer has a Content-Length
    server_version = "LocalHub/1.0"
    server: _Server

    def setup(self):
        self.timeout = self.server.hub.socket_timeout
        super().setup()

    def log_message(self, *args):  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------------------------
    def do_CONNECT(self):
        """An HTTPS proxy tunnel request (`HTTPS_PROXY` pointing here): refused and recorded."""
        self._block(f"CONNECT {self.path}")

    def do_GET(self):
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _block(self, target: str):
        with self.hub.lock:
            self.hub.blocked.append(target)
        self.close_connection = True
        self._reply(403, {"error": "LocalHub: no request may leave the machine"}, path=self.path)

    @property
    def hub(self) -> LocalHub:
        return self.server.hub

    def _handle(self):
        hub, target = self.hub, urlsplit(self.path)
        if target.netloc and target.netloc != urlsplit(hub.url).netloc:  # a plain-HTTP proxy request
            return self._block(f"{self.command} {self.path}")
        path, self.query = target.path, parse_qs(target.query)
        auth = self.headers.get("Authorization", "")
        self.token = auth[7:] if auth.startswith("Bearer ") else None
        try:
            status, payload, headers = self._dispatch(path)
        except HubError as e:
            status, payload = e.status, {"error": e.message, **e.body}
            headers = {"X-Error-Message": e.message, **({"X-Error-Code": e.code} if e.code else {}), **e.headers}
        except _Drop:
            self.close_connection = True
            return
        except Exception as e:  # a request this server does not understand, or a bug here: 500, kept in `errors`
            with hub.lock:
                hub.errors.append(f"{self.command} {path}: {traceback.format_exc()}")
            status, payload, headers = 500, {"error": f"LocalHub: {e!r}"}, {"X-Error-Message": f"LocalHub: {e!r}"}
        try:
            self._reply(status, payload, headers, path=path)
        except OSError:  # the client gave up (e.g. after an injected hang) or stop() closed the connection
            self.close_connection = True

    def _dispatch(self, path: str) -> tuple[int, object, dict]:
        """Read the body, apply limits and injected faults, route to the handler method."""
        hub = self.hub
        try:
            body = self._read_body()
        except (OSError, ValueError) as e:  # the body timed out or its framing is broken: drop the connection
            raise _Drop from e
        with hub.lock:
            if len(hub.requests) >= hub.max_requests:
                raise HubError(403, None, "LocalHub: request limit reached")  # 5xx would be retried
            fault = next((f for f in hub._faults if f.method == self.command and f.path.search(path)), None)
            if fault:
                hub._faults.remove(fault)
                hub.injected.append((self.command, path))
        if fault and fault.delay:
            hub._stopping.wait(fault.delay)
        if fault and fault.status:
            raise HubError(fault.status, None, f"LocalHub: injected {fault.status}")
        for methods, regex, name in ROUTES:
            if self.command in methods.split() and (m := re.fullmatch(regex, path)):
                groups = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
                with hub.lock:
                    answer = getattr(self, name)(body=body, **groups)
                    if self.command in ("POST", "PUT"):
                        hub._save()
                return answer
        raise HubError(404, None, f"LocalHub: no route for {self.command} {path}")

    def _read_body(self) -> bytes:
        limit = self.hub.max_body
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                total += size
                if total > limit:
                    self.close_connection = True
                    raise HubError(413, None, f"LocalHub: body over {limit} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.close_connection = True
            raise HubError(413, None, f"LocalHub: body over {limit} bytes")
        return self.rfile.read(length)

    def _reply(self, status: int, payload, headers: dict | None = None, path: str = ""):
        if isinstance(payload, (dict, list)):
            data, ctype = json.dumps(payload).encode(), "application/json; charset=utf-8"
        else:
            data, ctype = payload or b"", "application/octet-stream"
        with self.hub.lock:
            query = urlsplit(self.path).query
            self.hub.requests.append(Request(self.command, path, status, getattr(self, "token", None), query))
        self.send_response(status)
        headers = {"Content-Type": ctype, "Content-Length": str(len(data)), **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, body: bytes) -> dict:
        try:
            return json.loads(body or b"{}")
        except ValueError:
            raise HubError(400, None, "LocalHub: body is not JSON")

    def _auth(self, write: bool) -> None:
        if self.token is not None and self.hub.token is not None and self.token != self.hub.token:
            raise HubError(401, None, "Invalid credentials in Authorization header")
        if write and self.hub.require_token and self.token is None:
            raise HubError(401, None, "You must be authenticated to write")

    def _repo(self, repo: str, type: str | None = None, prefix: str | None = None, write: bool = False) -> Repo:
        """The repo, as its caller may see it: missing and private-without-token repos are both RepoNotFound
        (401 without a token, 404 with one, as huggingface.co)."""
        self._auth(write)
        kind = REPO_TYPES[type] if type else {"datasets": "dataset", "spaces": "space"}.get(prefix, "model")
        found = self.hub.repos.get((kind, repo))
        if found is None or (found.private and self.token is None):
            raise HubError(404 if self.token else 401, "RepoNotFound", "Repository not found")
        return found

    # -- the Hub API, one method per client call ---------------------------------------------------------------
    def create_repo(self, body):
        """`HfApi.create_repo`: 200 `{"url"}`; 409 when it exists, also with the `url` (`exist_ok=True` reads it)."""
        self._auth(write=True)
        req = self._json(body)
        kind, name = req.get("type") or "model", req.get("name", "")
        repo_id = f"{req.get('organization') or self.hub.username}/{name}"
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id) or kind not in URL_PREFIX:
            raise HubError(400, None, f"Invalid repo name {repo_id!r} or type {kind!r}")
        url = f"{self.hub.url}/{URL_PREFIX[kind]}{repo_id}"
        if (kind, repo_id) in self.hub.repos:
            raise HubError(409, None, f"You already created this {kind} repo", url=url)  # exist_ok reads `url`
        repo = Repo(kind, repo_id, req.get("visibility", "private" if req.get("private") else "public") == "private",
                    _now())
        self.hub.repos[(kind, repo_id)] = repo
        gitattributes = self.hub._add_file(LFS_ATTRIBUTES.encode())
        repo.refs["main"] = self.hub._commit(repo, None, {".gitattributes": gitattributes}, "initial commit", "")
        return 200, {"url": url, "name": repo_id, "id": repo_id}, {}

    def validate_yaml(self, body):
        """`HfApi._validate_yaml` (README.md in a commit): no errors, no warnings."""
        self._json(body)
        return 200, {"errors": [], "warnings": []}, {}

    def whoami(self, body):
        """`HfApi.whoami`."""
        if self.token is None:
            raise HubError(401, None, "Invalid credentials in Authorization header")
        self._auth(write=False)
        return 200, {"type": "user", "name": self.hub.username, "auth": {"accessToken": {"role": "write"}}}, {}

    def repo_info(self, body, type, repo, rev="main"):
        """`HfApi.repo_info`/`model_info` (also `SentenceTransformer(hub_id)`): `sha` and `siblings`."""
        r = self._repo(repo, type)
        commit = r.commits[r.resolve(rev)]
        blobs = self.query.get("blobs", [""])[0].lower() in ("1", "true")
        siblings = []
        for path, e in sorted(commit.files.items()):
            sibling = {"rfilename": path}
            if blobs:
                sibling |= {"size": e.size, "blobId": e.oid}
                if e.lfs:
                    sibling["lfs"] = {"sha256": e.lfs, "size": e.size, "pointerSize": len(lfs_pointer(e.lfs, e.size))}
            siblings.append(sibling)
        info = {"_id": git_sha1(repo.encode())[:24], "id": repo, "author": repo.split("/")[0], "sha": commit.oid,
                "lastModified": commit.date, "createdAt": r.created_at, "private": r.private, "disabled": False,
                "gated": False, "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
                "usedStorage": sum(e.size for e in commit.files.values())}
        if r.type == "model":
            info["modelId"] = repo
        return 200, info, {}

    def tree(self, body, type, repo, rev, path=""):
        """`HfApi.list_repo_tree`/`list_repo_files` (`recursive`; no pagination, no `expand`)."""
        r = self._repo(repo, type)
        files = r.commits[r.resolve(rev)].files
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        recursive = self.query.get("recursive", [""])[0].lower() in ("1", "true")
        out: dict[str, dict] = {}
        for p, e in sorted(files.items()):
            if not p.startswith(prefix):
                continue
            parts = p[len(prefix):].split("/")
            for i in range(1, len(parts) if recursive else min(2, len(parts))):
                folder = prefix + "/".join(parts[:i])
                tree_oid = git_sha1("".join(f"{q}\0{f.oid}\n" for q, f in sorted(files.items())
                                            if q.startswith(folder + "/")).encode(), "tree")
                out.setdefault(folder, {"type": "directory", "oid": tree_oid, "size": 0, "path": folder})
            if recursive or len(parts) == 1:
                out[p] = {"type": "file", "oid": e.oid, "size": e.size, "path": p}
                if e.lfs:
                    out[p]["lfs"] = {"oid": e.lfs, "size": e.size, "pointerSize": len(lfs_pointer(e.lfs, e.size))}
        if prefix and not out:
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {rev}")
        return 200, sorted(out.values(), key=lambda x: x["path"]), {}

    def preupload(self, body, type, repo, rev):
        """`_fetch_upload_modes` (every commit): per file `uploadMode` (LFS by the repo's .gitattributes, size over
        `lfs_threshold`, or binary over 1 MB), `shouldIgnore` (.gitignore) and the `oid` of the current version:
        sha256 for an LFS file, git sha1 otherwise, so that the client skips unchanged files."""
        r = self._repo(repo, type, write=True)
        files = r.commits[r.resolve(rev)].files
        text = lambda name: self.hub._read(files[name]).decode("utf-8", "replace") if name in files else ""
        lfs_rules = [ln.split()[0] for ln in text(".gitattributes").splitlines() if "filter=lfs" in ln.split()[1:]]
        req = self._json(body)
        ignore = [ln.strip() for ln in (req.get("gitIgnore") or text(".gitignore")).splitlines()
                  if ln.strip() and not ln.startswith("#")]
        answer = []
        for f in req.get("files", []):
            path, size, sample = f["path"], int(f["size"]), base64.b64decode(f.get("sample", ""))
            lfs = size > 0 and (any(_match(rule, path) for rule in lfs_rules) or size > self.hub.lfs_threshold
                                or (b"\0" in sample and size > 1024**2))
            old = files.get(path)
            answer.append({"path": path, "uploadMode": "lfs" if lfs else "regular",
                           "shouldIgnore": any(_match(rule, path) for rule in ignore),
                           "oid": (old.lfs or old.oid) if old else None})
        return 200, {"files": answer, "commitOid": r.resolve(rev)}, {}

    def lfs_batch(self, body, repo, prefix=None):
        """`lfs.post_lfs_batch_info` (LFS files): "basic" transfer, an upload and a verify href on this server;
        no `actions` for an object the repo already has."""
        r = self._repo(repo, prefix=prefix, write=True)
        req = self._json(body)
        if req.get("operation") != "upload":
            raise HubError(400, None, "LocalHub: only the upload operation")
        objects = []
        for obj in req.get("objects", []):
            oid, size = obj["oid"], obj["size"]
            if oid in r.lfs:
                objects.append({"oid": oid, "size": size})
                continue
            ticket = secrets.token_hex(16)
            self.hub._tickets[ticket] = ((r.type, r.id), oid, size)
            verify = f"{self.hub.url}/{URL_PREFIX[r.type]}{r.id}.git/info/lfs/objects/verify"
            objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                "upload": {"href": f"{self.hub.url}/lfs-upload/{ticket}", "header": {}},
                "verify": {"href": verify, "header": {}}}})
        return 200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}

    def lfs_upload(self, body, ticket):
        """`lfs._upload_single_part`: the PUT of the bytes (like a pre-signed S3 URL: no token, one use)."""
        if ticket not in self.hub._tickets:
            raise HubError(403, None, "LocalHub: unknown or used upload URL")
        key, oid, size = self.hub._tickets.pop(ticket)
        if len(body) != size or hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, None, "LocalHub: uploaded bytes do not match the oid/size of the batch")
        self.hub._store(body, oid)
        self.hub.repos[key].lfs.add(oid)
        return 200, b"", {}

    def lfs_verify(self, body, repo, prefix=None):
        """`lfs.lfs_upload` step 3: the object is there with that size."""
        r = self._repo(repo, prefix=prefix, write=True)
        req = self._json(body)
        path = self.hub.root / "objects" / str(req.get("oid"))
        if req.get("oid") not in r.lfs or path.stat().st_size != req.get("size"):
            raise HubError(404, None, "LocalHub: object not uploaded")
        return 200, {"success": True}, {}

    def commit(self, body, type, repo, rev):
        """`HfApi.create_commit` (`upload_file`/`upload_folder`/`push_to_hub`): NDJSON header, file, lfsFile,
        deletedFile, deletedFolder; `parentCommit` must be the head (412 otherwise); `create_pr=1` opens refs/pr/N."""
        r = self._repo(repo, type, write=True)
        try:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError:
            raise HubError(400, None, "LocalHub: body is not NDJSON")
        if not lines or lines[0].get("key") != "header" or not lines[0]["value"].get("summary"):
            raise HubError(400, None, "The first line must be a header with a summary")
        header = lines[0]["value"]
        create_pr = self.query.get("create_pr", [""])[0] in ("1", "true")
        parent = header.get("parentCommit")
        if create_pr:
            base = r.resolve(parent or rev)
        else:
            if rev.removeprefix("refs/heads/") not in r.refs:
                raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev} (a commit goes to a branch)")
            base = r.resolve(rev)
            if parent is not None and parent != base:
                raise HubError(412, None, "A commit has happened since. Please refresh and try again.")
        files = dict(r.commits[base].files)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            path = value.get("path", "")
            if not path.strip("/") or path.startswith("/") or ".." in path.split("/"):
                raise HubError(400, None, f"Invalid path {path!r}")
            if key == "file":
                content = value["content"]
                data = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                files[path] = self.hub._add_file(data)
            elif key == "lfsFile":
                oid = value["oid"]
                if oid not in r.lfs:
                    raise HubError(400, None, f"LFS object {oid} of {path} was not uploaded")
                size = (self.hub.root / "objects" / oid).stat().st_size
                files[path] = Entry(git_sha1(lfs_pointer(oid, size)), size, oid)
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubError(404, "EntryNotFound", f"A file with this name doesn't exist: {path}")
            elif key == "deletedFolder":
                gone = [p for p in files if p.startswith(path.rstrip("/") + "/")]
                if not gone:
                    raise HubError(404, "EntryNotFound", f"A folder with this name doesn't exist: {path}")
                for p in gone:
                    del files[p]
            else:
                raise HubError(400, None, f"Unknown commit line key {key!r}")
        oid = self.hub._commit(r, base, files, header["summary"], header.get("description") or "")
        pr_url = None
        if create_pr:
            r.prs += 1
            r.refs[f"refs/pr/{r.prs}"] = oid
            pr_url = f"{self.hub.url}/{URL_PREFIX[r.type]}{r.id}/discussions/{r.prs}"
        else:
            r.refs[rev.removeprefix("refs/heads/")] = oid
        commit_url = f"{self.hub.url}/{URL_PREFIX[r.type]}{r.id}/commit/{oid}"
        return 200, {"success": True, "commitOid": oid, "commitUrl": commit_url, "pullRequestUrl": pr_url}, {}

    def create_branch(self, body, type, repo, rev):
        """`HfApi.create_branch` (also `push_to_hub(revision=...)`): from `startingPoint` or main; 409 if it exists."""
        r = self._repo(repo, type, write=True)
        start = self._json(body).get("startingPoint") or "main"
        if rev in r.refs:
            raise HubError(409, None, f"Reference already exists: refs/heads/{rev}")
        if rev.startswith("refs/") or not re.fullmatch(r"[\w./-]+", rev):
            raise HubError(400, None, f"Invalid branch name {rev!r}")
        r.refs[rev] = r.resolve(start)
        return 200, {}, {}

    def resolve(self, body, repo, rev, path, prefix=None):
        """`hf_hub_download`/`get_hf_file_metadata` (HEAD, then GET): `X-Repo-Commit`, `ETag` (the quoted git sha1,
        or the sha256 of an LFS file), `Content-Length`; `Range: bytes=a-b` gives a 206."""
        r = self._repo(repo, prefix=prefix)
        oid = r.resolve(rev)
        entry = r.commits[oid].files.get(path)
        if entry is None:
            raise HubError(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": oid})
        data = self.hub._read(entry)
        headers = {"X-Repo-Commit": oid, "ETag": f'"{entry.lfs or entry.oid}"', "Accept-Ranges": "bytes"}
        if (m := re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))) and int(m[1]) < len(data):
            end = min(int(m[2]) if m[2] else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {m[1]}-{end}/{len(data)}"
            return 206, data[int(m[1]):end + 1], headers
        return 200, data, headers


def _match(rule: str, path: str) -> bool:
    """A .gitattributes/.gitignore pattern: on the whole path if it has a '/', else on any path component."""
    rule = rule.strip("/")
    if "/" in rule:
        return fnmatch.fnmatch(path, rule)
    return any(fnmatch.fnmatch(part, rule) for part in path.split("/"))


def run_client(hub: LocalHub, code: str, hf_home: str | os.PathLike, *, timeout: float = 120, check: bool = True,
               **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python with `hub.client_env(hf_home, **env)`; with `check`, a failure raises with
    the client's output."""
    proc = subprocess.run([sys.executable, "-c", code], env=hub.client_env(hf_home, **env), capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"client failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
