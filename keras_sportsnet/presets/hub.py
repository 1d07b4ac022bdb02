"""Where a preset comes from: the registry, the Hugging Face Hub, or a local folder.

`resolve_preset` turns what a user wrote as ``weights=`` into a `LocalPreset`
(a folder on disk whose files are verified) or the path of a bare
``.weights.h5`` file:

- a registered name: its files are downloaded from the Hub at the pinned
  revision with `huggingface_hub.hf_hub_download` (the Hub's own cache,
  ``HF_HOME``), and each is checked against its registered sha256;
- ``hf://org/repo`` or ``hf://org/repo@revision``: the same, checked against
  the hashes the preset's own ``metadata.json`` records (catches truncated or
  corrupted downloads; pin a revision for reproducibility);
- a local preset folder, or a local ``.weights.h5`` file.

Only the listed files are requested (no listing calls, no probing for
optional files), so the same code works offline from the cache
(``HF_HUB_OFFLINE=1``). A file whose hash does not match is removed from the
cache before the error is raised, so no later call can trust it.
"""

import os
import re

from keras_sportsnet.presets.registry import PRESETS
from keras_sportsnet.presets.registry import SPORTS1M_RECIPE
from keras_sportsnet.presets.store import CONFIG_FILE
from keras_sportsnet.presets.store import METADATA_FILE
from keras_sportsnet.presets.store import PRESET_FILES
from keras_sportsnet.presets.store import WEIGHTS_FILE
from keras_sportsnet.presets.store import PresetError
from keras_sportsnet.presets.store import read_preset
from keras_sportsnet.presets.store import sha256_of

__all__ = ["parse_hf_handle", "resolve_preset", "upload_preset", "PresetError"]

_HF_HANDLE = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<revision>[\w./-]+))?$")


def parse_hf_handle(handle):
    """``"hf://org/repo@rev"`` -> ``("org/repo", "rev" or None)``.

    Example:
    >>> parse_hf_handle("hf://keras-sportsnet/slow-fusion@v1.0")
    ('keras-sportsnet/slow-fusion', 'v1.0')
    """
    match = _HF_HANDLE.match(handle)
    if not match:
        raise ValueError(
            f"A Hub handle must look like 'hf://org/repo' or 'hf://org/repo@revision'. Received: {handle!r}"
        )
    return match.group("repo"), match.group("revision")


def _unknown(weights):
    available = ", ".join(sorted(PRESETS)) or "none are registered"
    return ValueError(
        "`weights` must be None, a preset name, 'hf://org/repo[@revision]', a local preset folder or a "
        f"local .weights.h5 file. Received: weights={weights!r}. Registered presets: {available} "
        f"(see keras_sportsnet.list_presets()). {SPORTS1M_RECIPE}"
    )


def resolve_preset(weights):
    """A `LocalPreset`, or the path of a ``.weights.h5`` file, for ``weights=``.

    Args:
        weights: a registered preset name, an ``hf://`` handle, a preset
            folder, or a ``.weights.h5`` path.

    Returns:
        `keras_sportsnet.presets.store.LocalPreset`, or a str path ending in
        ``.weights.h5``.

    Raises:
        ValueError: ``weights`` names nothing that exists (the message lists
            the registered presets).
        PresetError: a download failed, a file is missing (offline: which
            files, and how to get them), or a hash does not match.

    Example:
    ```python
    preset = resolve_preset("hf://my-org/slow-fusion-ucf101@v1")
    preset.path, preset.metadata["evaluation"]
    ```
    """
    if not isinstance(weights, (str, os.PathLike)):
        raise _unknown(weights)
    text = os.fspath(weights)
    if text in PRESETS:
        entry = PRESETS[text]
        if "path" in entry:
            return read_preset(_shipped_folder(text, entry), source=text)
        folder = _download(text, entry["hub"], entry["revision"], entry["files"])
        return read_preset(folder, source=text)
    if text.startswith("hf://"):
        repo, revision = parse_hf_handle(text)
        folder = _download(text, repo, revision, None)
        preset = read_preset(folder, source=text)
        _check_recorded_hashes(preset, folder)
        return preset
    if os.path.isdir(text):
        preset = read_preset(text)
        _check_recorded_hashes(preset, text)
        return preset
    if text.endswith(".weights.h5"):
        if not os.path.isfile(text):
            raise ValueError(f"`weights` file {text!r} does not exist.")
        return text
    raise _unknown(weights)


def _shipped_folder(name, entry):
    """The folder of a preset shipped in the repository, every file checked against the registry."""
    from keras_sportsnet.presets.registry import REPOSITORY_ROOT

    folder = os.path.join(REPOSITORY_ROOT, entry["path"])
    if not os.path.isdir(folder):
        raise PresetError(
            f"Preset {name!r} ships in the repository's {entry['path']} folder, which this installation does not "
            f"have ({folder}). Install keras_sportsnet from a clone of the repository (pip install -e .), or "
            "retrain it: python benchmarks/reproduce_paper.py --save-presets weights/"
        )
    for file_name, expected in entry["files"].items():
        path = os.path.join(folder, file_name)
        found = sha256_of(path) if os.path.isfile(path) else None
        if found != expected:
            raise PresetError(
                f"Preset {name!r}: {path} has sha256 {found}, but the registry (keras_sportsnet/presets/shipped.json) "
                f"pins {expected}. Restore the file from the repository (git checkout -- {entry['path']}) or, after "
                "retraining, let reproduce_paper.py --save-presets update the registry."
            )
    return folder


def shipped_registry_entry(folder, summary=None):
    """The ``shipped.json`` entry of a preset folder inside the repository."""
    from keras_sportsnet.presets.registry import REPOSITORY_ROOT

    entry = preset_registry_entry(folder, "hf://local/unused", None, summary)
    entry.pop("hub"), entry.pop("revision")
    return {"path": os.path.relpath(os.path.abspath(folder), REPOSITORY_ROOT), **entry}


def _check_recorded_hashes(preset, folder):
    """Checks config and weights against the sha256 that ``metadata.json`` records."""
    for name, expected in (preset.metadata.get("files") or {}).items():
        path = os.path.join(folder, name)
        if os.path.isfile(path) and sha256_of(path) != expected:
            raise PresetError(
                f"Preset {preset.source!r}: {name} does not match the sha256 its metadata.json records "
                f"(expected {expected}, found {sha256_of(path)}): the file is corrupt or was changed."
            )


def _download(source, repo, revision, hashes):
    """Downloads the preset's files (verified against ``hashes`` if given); returns their folder."""
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    folders = set()
    for position, name in enumerate(PRESET_FILES):
        try:
            path = _fetch(huggingface_hub, hub_errors, repo, name, revision)
        except hub_errors.LocalEntryNotFoundError as error:
            raise PresetError(_not_available(source, repo, revision, error)) from None
        except (hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError, hub_errors.EntryNotFoundError) as error:
            if position > 0 or isinstance(error, hub_errors.EntryNotFoundError):
                # Some servers (mirrors) answer a missing file with "repository not found".
                raise PresetError(
                    f"Preset {source!r}: {repo}@{revision or 'main'} has no {name}; a preset needs "
                    f"{', '.join(PRESET_FILES)} ({type(error).__name__})."
                ) from None
            raise PresetError(
                f"Preset {source!r}: the Hub has no repository {repo!r} at revision {revision or 'main'!r} "
                f"({type(error).__name__})."
            ) from None
        except (OSError, hub_errors.HfHubHTTPError) as error:
            raise PresetError(f"Preset {source!r}: downloading {name} from {repo} failed: {error}") from None
        if hashes is not None:
            found = sha256_of(path)
            if found != hashes.get(name):
                _forget(path)
                raise PresetError(
                    f"Preset {source!r}: {name} from {repo}@{revision} has sha256 {found}, but the registry "
                    f"pins {hashes.get(name)}. The corrupt file was removed from the cache; try again, and "
                    "report the preset if it persists."
                )
        folders.add(os.path.dirname(path))
    if len(folders) != 1:  # one snapshot folder per revision
        raise PresetError(f"Preset {source!r}: its files came from different revisions ({sorted(folders)}).")
    return folders.pop()


_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _fetch(huggingface_hub, hub_errors, repo, name, revision):
    """One file's cached path; a pinned commit is served from the cache without asking the Hub."""
    if revision and _COMMIT.match(revision):
        try:  # a commit never changes: no network round trip (or retries on a dead network)
            return huggingface_hub.hf_hub_download(repo, name, revision=revision, local_files_only=True)
        except hub_errors.LocalEntryNotFoundError:
            pass
    return huggingface_hub.hf_hub_download(repo, name, revision=revision)


def _forget(path):
    """Removes a cached Hub file: the snapshot link and the blob it points to."""
    target = os.path.realpath(path)
    for victim in {path, target}:
        try:
            os.remove(victim)
        except FileNotFoundError:
            pass


def _not_available(source, repo, revision, error):
    import huggingface_hub.constants

    offline = bool(huggingface_hub.constants.HF_HUB_OFFLINE)
    revision_words = f" --revision {revision}" if revision else ""
    return (
        f"Preset {source!r}: {', '.join(PRESET_FILES)} of {repo}@{revision or 'main'} are not in the local "
        f"Hugging Face cache ({os.environ.get('HF_HOME') or '~/.cache/huggingface'})"
        + (" and HF_HUB_OFFLINE is set" if offline else ", and the Hub could not be reached")
        + f". Get them on a machine with network access: `hf download {repo}{revision_words} "
        f"{' '.join(PRESET_FILES)}` (then copy the cache), or load once with network access "
        f"(unset HF_HUB_OFFLINE). ({type(error).__name__})"
    )


def upload_preset(directory, handle, commit_message=None, private=None, token=None):
    """Publishes a preset folder to the Hugging Face Hub; returns the commit to pin.

    Creates the repository if needed (``exist_ok``), uploads the folder's
    files in one commit with `huggingface_hub.HfApi.upload_folder`, and
    returns the commit's 40-hex id: put it (or a tag) in a registry entry as
    ``revision``, together with the files' sha256 (`preset_registry_entry`).

    Args:
        directory: a folder written by `save_preset`.
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
    _check_recorded_hashes(preset, directory)
    repo, revision = parse_hf_handle(handle)
    if revision:
        raise ValueError(f"Upload to a repository, not a revision: 'hf://{repo}'. Received: {handle!r}")
    api = huggingface_hub.HfApi(token=token, library_name="keras_sportsnet")
    api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo,
        folder_path=os.fspath(directory),
        repo_type="model",
        commit_message=commit_message or f"Upload keras_sportsnet preset {os.path.basename(os.fspath(directory))}",
        allow_patterns=[*PRESET_FILES, "README.md"],
    )
    commit = getattr(info, "oid", None)
    if not commit:
        raise PresetError(f"Uploading {directory} to {repo} returned no commit id ({info!r}).")
    return commit


def preset_registry_entry(directory, handle, revision, summary=None):
    """The registry entry (plain data) for a published preset folder.

    Example:
    ```python
    entry = preset_registry_entry("presets/slow", "hf://org/slow", commit)
    ```
    """
    repo, _ = parse_hf_handle(handle)
    preset = read_preset(directory)
    architecture = preset.metadata.get("architecture", {})
    return {
        "hub": repo,
        "revision": revision,
        "files": {name: sha256_of(os.path.join(directory, name)) for name in PRESET_FILES},
        "summary": summary
        or {
            "architecture": architecture.get("table1_name") or architecture.get("fusion"),
            "spec": architecture.get("spec"),
            "dataset": (preset.metadata.get("dataset") or {}).get("name"),
            "params": preset.metadata.get("parameter_count"),
            "metrics": (preset.metadata.get("evaluation") or {}).get("metrics", {}),
        },
    }


__all__ += ["preset_registry_entry", "shipped_registry_entry", "CONFIG_FILE", "METADATA_FILE", "WEIGHTS_FILE"]


class PresetTable(list):
    """`list_presets`' result: a list of row dicts that prints as a table."""

    COLUMNS = ("name", "architecture", "spec", "dataset", "params", "metrics")

    def __str__(self):
        if not self:
            return "No presets are registered. " + SPORTS1M_RECIPE
        rows = [
            [
                str(row["name"]),
                str(row.get("architecture") or ""),
                str(row.get("spec") or ""),
                str(row.get("dataset") or ""),
                f"{row['params']:,}" if isinstance(row.get("params"), int) else "",
                ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in (row.get("metrics") or {}).items()),
            ]
            for row in self
        ]
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(self.COLUMNS)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(self.COLUMNS, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):  # IPython / Jupyter
        printer.text(str(self))


def list_presets():
    """The registered presets: name, architecture, spec, dataset, params, metrics.

    Reads only the registry (no download, no network).

    Returns:
        `PresetTable`: a list of dicts, one per preset, that prints as a table.

    Example:
    ```python
    print(ksn.list_presets())
    ```
    """
    return PresetTable(
        {"name": name, **{key: entry.get("summary", {}).get(key) for key in PresetTable.COLUMNS[1:]}}
        for name, entry in sorted(PRESETS.items())
    )


__all__ += ["PresetTable", "list_presets"]
