"""A local Hugging Face Hub on 127.0.0.1: serve preset folders to ``hf://`` handles without the internet.

For air-gapped clusters, demos, tutorials and tests. It runs an `olah`
server (``pip install "olah>=0.5.4,<0.6"``; it is in this package's ``test``
extra) that serves every git repository found at
``<mirrors>/models/<org>/<name>`` as the Hub repository ``org/name``: the
``resolve`` and ``revision`` routes `huggingface_hub.hf_hub_download` uses,
with branches, tags and commits resolved by git. Publishing a preset is a git
commit into that folder (`LocalHub.publish`); the server itself is read-only.
Nothing else is reached: olah runs with ``offline = true`` (otherwise it first
asks huggingface.co whether each repository is visible) and listens on
127.0.0.1 only.

```python
from keras_sportsnet.testing.local_hub import LocalHub

with LocalHub() as hub:                                   # a free port on 127.0.0.1; stopped on exit
    commit = hub.publish("my-org/slow-fusion", "presets/slow")   # a preset folder -> a commit
    with hub.use(cache="/tmp/hf_cache"):                  # huggingface_hub now talks to this server
        model = ksn.from_preset(f"hf://my-org/slow-fusion@{commit}")
```

Other processes reach it with ``HF_ENDPOINT=<hub.url>`` in their environment
(set before ``huggingface_hub`` is imported).

Known olah deviations from the real Hub (olah 0.5.4): a file missing from an
existing repo is answered 401 ``RepositoryNotFound`` to HEAD (the client
raises `RepositoryNotFoundError`, not `EntryNotFoundError`) and 500 to GET;
the server is read-only (``create_repo``/``upload_folder`` are refused:
publish with `LocalHub.publish`); files committed without git-lfs are served
as plain git blobs (etag = git blob sha1, not sha256). keras_sportsnet asks
only for files a preset lists, so none of these matter to `from_preset`.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"
INSTALL_HINT = 'pip install "olah>=0.5.4,<0.6"` (from a clone of keras_sportsnet: `pip install -e ".[test]"'
READY_REPO = "ksn-local-hub/ready"
"""A repository published before start, asked for until the server answers with it."""
GIT_AUTHOR = ("-c", "user.name=keras_sportsnet", "-c", "user.email=local-hub@keras-sportsnet.invalid")

__all__ = ["LocalHub", "OlahMissing", "find_olah", "free_port"]


class OlahMissing(RuntimeError):
    """olah-cli (or git) cannot be found."""


def find_olah():
    """The ``olah-cli`` executable: next to this Python first (a venv's bin/), else on PATH."""
    names = ("olah-cli.exe", "olah-cli") if os.name == "nt" else ("olah-cli",)
    for name in names:
        candidate = os.path.join(os.path.dirname(sys.executable), name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("olah-cli")
    if found:
        return found
    raise OlahMissing(
        f"olah-cli was not found next to {sys.executable} or on PATH: a local Hub needs olah; install it with "
        f"`{INSTALL_HINT}`)."
    )


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _git(cwd, *args):
    result = subprocess.run(
        ["git", *GIT_AUTHOR, *args], cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
             "GIT_TERMINAL_PROMPT": "0"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def _toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# A direct opener: loopback requests never go through an HTTP(S)_PROXY from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalHub:
    """An olah server on a free 127.0.0.1 port, serving the git repos under `mirrors`.

    Args:
        root: str or None. A folder for the config, mirrors, olah's cache and
            logs (default: a new temporary folder, left in place).
        port: int or None. Default: a free port.

    Attributes:
        url: str. ``http://127.0.0.1:<port>``, the ``HF_ENDPOINT`` to use.
        port: int.
        root: str.
        mirrors: str. Where `publish` puts repositories (``<mirrors>/models/<org>/<name>``).
        logs: str. olah's log folder (``olah.log`` holds the access log).
        process: `subprocess.Popen`, or None when not running.

    Raises:
        OlahMissing: olah or git is not installed.
    """

    def __init__(self, root=None, port=None):
        self.executable = find_olah()
        if shutil.which("git") is None:
            raise OlahMissing("git is not on PATH: olah serves repositories from git, and publishing commits with it.")
        self.root = root or tempfile.mkdtemp(prefix="ksn_local_hub_")
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.mirrors = os.path.join(self.root, "mirrors")
        self.repos = os.path.join(self.root, "repos")  # olah's own cache (unused offline)
        self.logs = os.path.join(self.root, "logs")
        self.output = os.path.join(self.root, "olah.out")
        self.config = os.path.join(self.root, "configs.toml")
        self.process = None
        for folder in (self.mirrors, self.repos, self.logs):
            os.makedirs(folder, exist_ok=True)
        with open(self.config, "w", encoding="utf-8") as file:
            file.write(
                "[basic]\n"
                f'host = "{HOST}"\n'
                f"port = {self.port}\n"
                f"repos-path = {_toml_string(self.repos)}\n"
                'mirror-scheme = "http"\n'
                f'mirror-netloc = "{HOST}:{self.port}"\n'
                f'mirror-lfs-netloc = "{HOST}:{self.port}"\n'
                f"mirrors-path = [{_toml_string(self.mirrors)}]\n"
                "metadata-cache-ttl = 0\n"  # a new commit is seen at once
                "\n[accessibility]\n"
                "offline = true\n"  # required: never ask huggingface.co about visibility
            )

    def __repr__(self):
        return f"LocalHub(url={self.url!r}, root={self.root!r}, running={self.running})"

    # ------------------------------------------------------------- lifecycle
    def start(self, timeout=60.0):
        """Starts olah and waits until it serves `READY_REPO`; raises with its log tail if it never does.

        Returns:
            ``self``.
        """
        if self.running:
            return self
        self.publish(READY_REPO, files={"README.md": "---\nlibrary_name: keras\n---\nreadiness probe\n"})
        env = {**os.environ, "OLAH_LOG_PATH": self.logs, "NO_PROXY": HOST, "no_proxy": HOST, "PYTHONUNBUFFERED": "1"}
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [self.executable, "-c", self.config, "--log-path", self.logs],
                cwd=self.root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RuntimeError(f"olah exited with code {code} before answering on {self.url}.\n" + self.log_tail())
            try:
                status, _ = self.get(f"/api/models/{READY_REPO}/revision/main", timeout=2)
                if status == 200:
                    return self
                last = f"HTTP {status}"
            except (OSError, urllib.error.URLError) as error:
                last = f"{type(error).__name__}: {error}"
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"olah did not serve {READY_REPO} on {self.url} within {timeout:.0f} s (last: {last}).\n" + self.log_tail()
        )

    def stop(self, timeout=10.0):
        """Stops the server by its PID: terminate, wait, kill if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines=40):
        """The last lines of olah's console output and log file, for error messages."""
        for path in (self.output, os.path.join(self.logs, "olah.log")):  # the log repeats the console
            try:
                with open(path, encoding="utf-8", errors="replace") as file:
                    text = file.read().splitlines()[-lines:]
            except OSError:
                continue
            if text:
                return f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text)
        return "(olah wrote no log)"

    def get(self, path, timeout=10, method="GET"):
        """``(status, body bytes)`` of a request to the server (127.0.0.1 only)."""
        request = urllib.request.Request(self.url + path, method=method)
        try:
            with _DIRECT.open(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    # -------------------------------------------------------------- clients
    @contextlib.contextmanager
    def use(self, cache=None):
        """Points this process's `huggingface_hub` at the server (and optionally a cache) inside a ``with``.

        `huggingface_hub` reads ``HF_ENDPOINT`` and ``HF_HUB_CACHE`` once, at
        import; this sets its module constants for the duration of the block
        and restores them after.

        Args:
            cache: str or None. A Hub cache folder to use meanwhile (None:
                keep the current one).
        """
        import huggingface_hub.constants as constants

        names = ["ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE"] + (["HF_HUB_CACHE"] if cache else [])
        saved = {name: getattr(constants, name) for name in names}
        constants.ENDPOINT = self.url
        constants.HUGGINGFACE_CO_URL_TEMPLATE = self.url + "/{repo_id}/resolve/{revision}/{filename}"
        if cache:
            os.makedirs(cache, exist_ok=True)
            constants.HF_HUB_CACHE = os.fspath(cache)
        try:
            yield self
        finally:
            for name, value in saved.items():
                setattr(constants, name, value)

    # -------------------------------------------------------------- content
    def repo_path(self, repo_id):
        """The git repository that serves ``repo_id`` (``"org/name"``)."""
        org, name = repo_id.split("/")
        return os.path.join(self.mirrors, "models", org, name)

    def publish(self, repo_id, folder=None, files=None, tags=(), message=None, exclude=()):
        """Commits a folder's files (and/or ``files``: name -> text/bytes) to ``repo_id`` on ``main``.

        The first call creates the git repository; later calls replace its
        whole content with the new files (a new commit on ``main``, so older
        commits and tags keep the old files). Works whether or not the server
        is running.

        Args:
            repo_id: ``"org/name"`` (an ``hf://org/name`` handle is accepted too).
            folder: a folder (e.g. a preset written by `save_preset`) whose
                top-level files are committed, or None.
            files: dict name -> str or bytes, written after the folder's files.
            tags: tag names to put on the new commit.
            message: the commit message.
            exclude: names from ``folder`` to leave out.

        Returns:
            str. The new commit's 40-hex sha: pin it as ``hf://org/name@<sha>``.
        """
        repo_id = repo_id.removeprefix("hf://")
        path = self.repo_path(repo_id)
        if not os.path.isdir(os.path.join(path, ".git")):
            os.makedirs(path, exist_ok=True)
            _git(path, "init", "-q", "-b", "main")
        else:
            for name in os.listdir(path):
                if name != ".git":
                    victim = os.path.join(path, name)
                    shutil.rmtree(victim) if os.path.isdir(victim) else os.remove(victim)
        if folder is not None:
            for name in sorted(os.listdir(folder)):
                source = os.path.join(folder, name)
                if name not in exclude and os.path.isfile(source):
                    shutil.copyfile(source, os.path.join(path, name))
        for name, content in (files or {}).items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(os.path.join(path, name), mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as file:
                file.write(content)
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "--allow-empty", "-m", message or f"publish {repo_id}")
        for tag in tags:
            _git(path, "tag", "-f", tag)
        return _git(path, "rev-parse", "HEAD")
