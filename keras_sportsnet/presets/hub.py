"""The Hugging Face Hub: download a preset's files into the Hub's cache, publish a preset folder.

Only the files a preset needs are requested (``metadata.json`` first, then the
files it lists), never a listing, so the same code works offline from the
cache (``HF_HUB_OFFLINE=1``); a pinned commit is served from the cache without
asking the Hub. Every failure (no such repository or file, not cached
offline, a server that refuses, dies or freezes mid-download) is a
`PresetError` naming the preset, the file and the problem; a download never
waits forever (``HF_HUB_DOWNLOAD_TIMEOUT``/``HF_HUB_ETAG_TIMEOUT``, 10 s by default).

A file that fails its sha256 is removed from the cache: the snapshot link,
and the blob it points to only when that blob lies inside the repository's
own cache folder. Nothing outside the Hub cache is ever deleted.
"""

import contextlib
import os
import re
import shutil

from keras_sportsnet.presets.card import model_card
from keras_sportsnet.presets.errors import PresetError
from keras_sportsnet.presets.folder import KNOWN_FILES
from keras_sportsnet.presets.folder import METADATA_FILE
from keras_sportsnet.presets.folder import MODEL_CARD_FILE
from keras_sportsnet.presets.folder import PRESET_FILES
from keras_sportsnet.presets.folder import check_file_name
from keras_sportsnet.presets.folder import read_preset
from keras_sportsnet.presets.folder import verify_files
from keras_sportsnet.utils.files import private_temp_dir
from keras_sportsnet.utils.files import read_json
from keras_sportsnet.utils.files import sha256_of
from keras_sportsnet.utils.files import write_text

__all__ = ["download_preset", "hub_cache_folder", "parse_hf_handle", "remove_cached_file", "upload_preset"]

_HF_HANDLE = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<revision>[\w./-]+))?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def parse_hf_handle(handle):
    """``"hf://org/repo@rev"`` -> ``("org/repo", "rev" or None)``.

    Example:
    >>> parse_hf_handle("hf://keras-sportsnet/slow-fusion@v1.0")
    ('keras-sportsnet/slow-fusion', 'v1.0')
    """
    match = _HF_HANDLE.match(handle) if isinstance(handle, str) else None
    if not match or ".." in match.group("repo"):
        raise ValueError(
            f"A Hub handle must look like 'hf://org/repo' or 'hf://org/repo@revision'. Received: {handle!r}"
        )
    return match.group("repo"), match.group("revision")


def hub_cache_folder():
    """The Hugging Face cache in use: ``HF_HUB_CACHE`` (default ``$HF_HOME/hub``, ``~/.cache/huggingface/hub``).

    Example:
    ```python
    hub_cache_folder()     # e.g. '/root/.cache/huggingface/hub'
    ```
    """
    import huggingface_hub.constants

    return os.fspath(huggingface_hub.constants.HF_HUB_CACHE)


def _repo_cache(repo):
    return os.path.join(hub_cache_folder(), "models--" + repo.replace("/", "--"))


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def remove_cached_file(path, repo):
    """Removes a downloaded file from the Hub cache: its snapshot entry, and its blob if the cache owns it.

    The snapshot entry (normally a symlink) is removed only when it is inside
    ``repo``'s cache folder; the file it points to only when that, too, is
    inside the cache folder. A link to a file elsewhere (a user's own file)
    loses the link, never the file.

    Returns:
        list of the paths removed.

    Example:
    ```python
    remove_cached_file(path, "org/repo")
    ```
    """
    folder = _repo_cache(repo)
    removed = []
    if not _inside(os.path.dirname(os.path.abspath(path)), folder):
        return removed
    target = os.path.realpath(path) if os.path.islink(path) else None
    try:
        os.remove(path)
        removed.append(path)
    except FileNotFoundError:
        pass
    if target is not None and _inside(target, os.path.join(folder, "blobs")) and os.path.isfile(target):
        try:
            os.remove(target)
            removed.append(target)
        except FileNotFoundError:
            pass
    return removed


def _not_available(source, repo, revision, names, error):
    import huggingface_hub.constants

    offline = bool(huggingface_hub.constants.HF_HUB_OFFLINE)
    revision_words = f" --revision {revision}" if revision else ""
    return (
        f"Preset {source!r}: {', '.join(names)} of {repo}@{revision or 'main'} are not in the local "
        f"Hugging Face cache ({hub_cache_folder()})"
        + (" and HF_HUB_OFFLINE is set" if offline else ", and the Hub could not be reached")
        + f". Get them on a machine with network access: `hf download {repo}{revision_words} "
        f"{' '.join(names)}` (then copy the cache), or load once with network access "
        f"(unset HF_HUB_OFFLINE). ({type(error).__name__})"
    )


@contextlib.contextmanager
def _hub_logs_held_back():
    """Inside: huggingface_hub's own warnings (12 ``Error while downloading ... Trying to resume download...``
    lines on a dead server) are not printed; its failure reaches the user once, as our `PresetError`."""
    import logging

    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


def _fetch(source, repo, name, revision, names, optional=False):
    """One file's cached path (None for a missing optional file); every failure a PresetError."""
    with _hub_logs_held_back():
        return _fetch_quietly(source, repo, name, revision, names, optional)


def _fetch_quietly(source, repo, name, revision, names, optional):
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    if revision and _COMMIT.match(revision):
        try:  # a commit never changes: no network round trip (or retries on a dead network)
            return huggingface_hub.hf_hub_download(repo, name, revision=revision, local_files_only=True)
        except hub_errors.LocalEntryNotFoundError:
            pass
        except Exception:  # a damaged cache entry: ask the Hub below
            pass
    try:
        return huggingface_hub.hf_hub_download(repo, name, revision=revision)
    except hub_errors.LocalEntryNotFoundError as error:
        raise PresetError(_not_available(source, repo, revision, names, error)) from None
    except (hub_errors.EntryNotFoundError, hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError) as error:
        if optional:
            return None
        if name != METADATA_FILE or isinstance(error, hub_errors.EntryNotFoundError):
            # Some servers (mirrors) answer a missing file with "repository not found".
            raise PresetError(
                f"Preset {source!r}: {repo}@{revision or 'main'} has no {name}; a preset needs "
                f"{', '.join(PRESET_FILES)} ({type(error).__name__})."
            ) from None
        raise PresetError(
            f"Preset {source!r}: the Hub has no repository {repo!r} at revision {revision or 'main'!r} "
            f"({type(error).__name__})."
        ) from None
    except KeyboardInterrupt:
        raise
    except Exception as error:  # httpx/OSError/HfHubHTTPError: refused, dead or frozen server, full disk...
        detail = str(error).splitlines()[0] if str(error) else "no details"
        raise PresetError(
            f"Preset {source!r}: downloading {name} from {repo}@{revision or 'main'} failed "
            f"({type(error).__name__}: {detail}). The partial download is never used; try again, or check the network "
            f"(Hub cache: {hub_cache_folder()})."
        ) from None


def download_preset(source, repo, revision, hashes=None):
    """Downloads a preset's files into the Hub cache; returns their snapshot folder.

    Args:
        source: str. How the user named the preset (for messages).
        repo: ``"org/repo"``.
        revision: str or None (``main``).
        hashes: dict name -> sha256 (a registry entry's), or None. With
            hashes, exactly those files are fetched and each is checked as it
            arrives; a mismatch removes it from the cache (`remove_cached_file`).
            Without, ``metadata.json`` is fetched first and says which files
            follow (``files``), or the known file names are tried.

    Returns:
        str. The snapshot folder holding the files.

    Example:
    ```python
    folder = download_preset("hf://org/slow@v1", "org/slow", "v1")
    ```
    """
    if hashes is not None:
        names = [check_file_name(n, source, "the registry") if n != METADATA_FILE else n for n in hashes]
        plan = [(name, False) for name in names]
    else:
        plan = None
    folders = set()
    if plan is None:
        metadata_path = _fetch(source, repo, METADATA_FILE, revision, [METADATA_FILE])
        folders.add(os.path.dirname(metadata_path))
        try:
            listed = (read_json(metadata_path, what=f"preset file {METADATA_FILE}") or {}).get("files")
        except (OSError, ValueError) as error:
            raise PresetError(f"Preset {source!r}: {error}") from None
        if isinstance(listed, dict) and listed:
            plan = [(check_file_name(name, source), False) for name in listed]
        else:  # an unverified preset: the required files, and the optional ones if the repository has them
            plan = [(name, name not in PRESET_FILES) for name in KNOWN_FILES]
    names = [name for name, _ in plan]
    for name, optional in plan:
        path = _fetch(source, repo, name, revision, names, optional=optional)
        if path is None:
            continue
        if hashes is not None:
            found = sha256_of(path)
            if found != hashes[name]:
                remove_cached_file(path, repo)
                raise PresetError(
                    f"Preset {source!r}: {name} from {repo}@{revision} has sha256 {found}, but the registry "
                    f"pins {hashes[name]}. The corrupt file was removed from the cache "
                    f"({hub_cache_folder()}); try again, and report the preset if it persists."
                )
        folders.add(os.path.dirname(path))
    if len(folders) != 1:  # one snapshot folder per revision
        raise PresetError(f"Preset {source!r}: its files came from different revisions ({sorted(folders)}).")
    return folders.pop()


def upload_preset(directory, handle, commit_message=None, private=None, token=None):
    """Publishes a preset folder to the Hugging Face Hub; returns the commit to pin.

    Creates the repository if needed (``exist_ok``), uploads the preset's
    files in one commit with `huggingface_hub.HfApi.upload_folder` (the model
    card with this repository's handle in its snippet), and returns the
    commit's 40-hex id: load with ``hf://org/repo@<commit>``, or put it in a
    registry entry (`keras_sportsnet.presets.preset_registry_entry`).

    Args:
        directory: a folder written by `keras_sportsnet.save_preset`.
        handle: ``"hf://org/repo"``.
        commit_message: str or None.
        private: bool or None (the Hub's default).
        token: str or None (the logged-in token, or ``HF_TOKEN``).

    Returns:
        str. The commit id.

    Example:
    ```python
    commit = ksn.upload_preset("presets/slow_ucf101", "hf://my-org/slow-fusion-ucf101")
    model = ksn.from_preset(f"hf://my-org/slow-fusion-ucf101@{commit}")
    ```
    """
    import huggingface_hub

    preset = read_preset(directory)
    verify_files(preset)
    repo, revision = parse_hf_handle(handle)
    if revision:
        raise ValueError(f"Upload to a repository, not a revision: 'hf://{repo}'. Received: {handle!r}")
    staging = private_temp_dir(prefix="keras_sportsnet_upload_")
    try:
        names = [METADATA_FILE, *preset.files]
        for name in names:
            shutil.copyfile(preset.file(name), os.path.join(staging, name))
        write_text(os.path.join(staging, MODEL_CARD_FILE), model_card(preset.metadata, handle=f"hf://{repo}@<commit>"))
        api = huggingface_hub.HfApi(token=token, library_name="keras_sportsnet")
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo,
            folder_path=staging,
            repo_type="model",
            commit_message=commit_message or f"Upload keras_sportsnet preset {os.path.basename(os.fspath(directory))}",
            allow_patterns=[*names, MODEL_CARD_FILE],
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    commit = getattr(info, "oid", None)
    if not commit:
        raise PresetError(f"Uploading {directory} to {repo} returned no commit id ({info!r}).")
    return commit

