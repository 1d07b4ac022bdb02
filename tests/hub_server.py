"""A local Hugging Face Hub for the tests: `keras_sportsnet.testing.local_hub.LocalHub` as a pytest fixture.

The server itself (an `olah` server on 127.0.0.1 serving git repos from disk,
``offline = true``, publishing = a git commit into its mirror folder) lives in
the package, `keras_sportsnet.testing.local_hub`, so the tests and the
tutorial notebooks (notebooks/04_publish_to_hub.ipynb) run the same code; see
that module for olah's known deviations from the real Hub.

Use the session fixture `hub_server` (import it into a test module), publish
preset folders with `HubServer.publish`, and point huggingface_hub at
`HubServer.url` (see test_hub_server.py's ``hub`` fixture).
"""

import sys  # noqa: F401  (tests patch hub_server.sys.executable to hide olah)

import pytest

from keras_sportsnet.testing.local_hub import HOST
from keras_sportsnet.testing.local_hub import READY_REPO
from keras_sportsnet.testing.local_hub import LocalHub as HubServer
from keras_sportsnet.testing.local_hub import OlahMissing
from keras_sportsnet.testing.local_hub import find_olah
from keras_sportsnet.testing.local_hub import free_port

__all__ = ["HOST", "READY_REPO", "HubServer", "OlahMissing", "find_olah", "free_port", "hub_server", "start_server"]


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory):
    """A running `HubServer` for the whole session; stopped by PID at the end.

    Fails (never skips) when olah is not installed: ``pip install -e ".[test]"``.
    """
    server = start_server(tmp_path_factory)
    try:
        yield server
    finally:
        server.stop()


def start_server(tmp_path_factory, attempts=3):
    """A started `HubServer` in a fresh temp folder; another free port if the first was taken meanwhile."""
    missing = None
    for attempt in range(attempts):
        try:
            server = HubServer(root=str(tmp_path_factory.mktemp("olah")))
        except OlahMissing as error:
            missing = str(error)
            break
        try:
            return server.start()
        except RuntimeError as error:
            if "address already in use" not in str(error) or attempt == attempts - 1:
                raise
    pytest.fail(missing, pytrace=False)  # a failure, never a skip
