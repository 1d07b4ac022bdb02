"""A minimal, misbehaving Hugging Face Hub on 127.0.0.1: for testing what a client does when a server fails.

`StubHub` serves a fixed set of files for one repository at one commit over
the two routes `huggingface_hub.hf_hub_download` uses (``HEAD`` and ``GET`` of
``/<org>/<repo>/resolve/<revision>/<file>``), and can be told to misbehave on
one file: ``"die"`` (send half the body, then close the connection) or
``"freeze"`` (send half the body, then stall until the server stops). No
olah, no git: Python's standard library only, loopback only, every
connection ended when the server stops.

```python
from keras_sportsnet.testing.stub_hub import StubHub

with StubHub("org/repo", {"metadata.json": b"{}"}, fault=("metadata.json", "freeze")) as hub:
    with hub.use(cache="/tmp/hf_cache", timeout=2):
        ...   # hf_hub_download("org/repo", "metadata.json") times out instead of hanging
```
"""

import contextlib
import hashlib
import http.server
import os
import threading

__all__ = ["FAULTS", "StubHub"]

FAULTS = ("die", "freeze")
COMMIT = "5" * 40


class StubHub:
    """A threaded HTTP server on a free 127.0.0.1 port serving ``files`` of ``repo`` at commit `COMMIT`.

    Args:
        repo: ``"org/name"``.
        files: dict name -> bytes.
        fault: ``(file name, "die" | "freeze")`` or None.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        commit: the 40-hex commit every revision resolves to.
        requests: list of ``(method, path)`` served.
    """

    def __init__(self, repo, files, fault=None):
        if fault is not None and fault[1] not in FAULTS:
            raise ValueError(f"`fault` must name a file and one of {FAULTS}. Received: fault={fault!r}")
        self.repo, self.files, self.fault, self.commit = repo, dict(files), fault, COMMIT
        self.requests = []
        self._stop = threading.Event()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _file(self):
                prefix = f"/{stub.repo}/resolve/"
                if not self.path.startswith(prefix):
                    return None
                _, _, name = self.path[len(prefix):].partition("/")
                return name if name in stub.files else None

            def _headers(self, name, length):
                data = stub.files[name]
                self.send_header("X-Repo-Commit", stub.commit)
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("Content-Length", str(length))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()

            def do_HEAD(self):
                stub.requests.append(("HEAD", self.path))
                name = self._file()
                if name is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self._headers(name, len(stub.files[name]))

            def do_GET(self):
                stub.requests.append(("GET", self.path))
                name = self._file()
                if name is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = stub.files[name]
                self.send_response(200)
                self._headers(name, len(data))
                if stub.fault is not None and stub.fault[0] == name:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    if stub.fault[1] == "freeze":
                        stub._stop.wait(120)  # bounded: never outlives the test by more than this
                    self.close_connection = True
                    return
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = None

    def start(self):
        """Starts serving in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="stub-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops the server and releases every frozen response."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @contextlib.contextmanager
    def use(self, cache, timeout=2.0):
        """Points this process's `huggingface_hub` at the server, a cache folder and short timeouts."""
        import huggingface_hub.constants as constants

        names = ["ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE", "HF_HUB_CACHE", "HF_HUB_DOWNLOAD_TIMEOUT",
                 "HF_HUB_ETAG_TIMEOUT", "HF_HUB_OFFLINE"]
        saved = {name: getattr(constants, name) for name in names if hasattr(constants, name)}
        os.makedirs(cache, exist_ok=True)
        constants.ENDPOINT = self.url
        constants.HUGGINGFACE_CO_URL_TEMPLATE = self.url + "/{repo_id}/resolve/{revision}/{filename}"
        constants.HF_HUB_CACHE = os.fspath(cache)
        constants.HF_HUB_DOWNLOAD_TIMEOUT = timeout
        constants.HF_HUB_ETAG_TIMEOUT = timeout
        constants.HF_HUB_OFFLINE = False
        try:
            yield self
        finally:
            for name, value in saved.items():
                setattr(constants, name, value)
