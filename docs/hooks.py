"""MkDocs hooks: the repository's Markdown, read the same way on GitHub and on the site.

The pages are written for GitHub first: links are relative paths between repository files (`README.md` links
`docs/data.md`, a page links `../benchmarks/README.md`). The site needs three things GitHub does not:

1. `README.md` is the site's home page (`index.md`), so the front page is not written twice.
2. Repository files that pages link to outside `docs/` (`benchmarks/README.md`, `notebooks/*.ipynb`,
   `benchmarks/*.py`, ...) are added to the site under `repo/<their path>`, so every relative link has a target and
   MkDocs' strict mode still checks every link and anchor. A link to a file that does not exist is left as written,
   and MkDocs reports it (and `--strict` fails).
3. The visible "Not run in the test suite: ..." line above a code block (see `tests/docs/test_docs_examples.py`)
   is shown as a note admonition.

Used by `mkdocs.yml` (`hooks:`); nothing in the package imports it.
"""

import os
import posixpath
import re

from mkdocs.structure.files import File
from mkdocs.structure.files import InclusionLevel

REPOSITORY_PREFIX = "repo/"
HOME = "README.md"
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
FENCE = re.compile(r"^(```|~~~)", flags=re.M)
NOT_RUN = re.compile(r"^([ \t]*)\*Not run in the test suite: (.+?)\*[ \t]*$", flags=re.M)


def _repository_root(config):
    return os.path.dirname(os.path.abspath(config.config_file_path))


def _docs_folder(config):
    return os.path.relpath(os.path.abspath(config.docs_dir), _repository_root(config)).replace(os.sep, "/")


def _site_path(repository_path, docs):
    """Where a repository file lives on the site (a `src_uri`)."""
    if repository_path == HOME:
        return "index.md"
    if repository_path.startswith(docs + "/"):
        return repository_path[len(docs) + 1:]
    return REPOSITORY_PREFIX + repository_path


def _repository_path(src_uri, docs):
    """The inverse of `_site_path`."""
    if src_uri == "index.md":
        return HOME
    if src_uri.startswith(REPOSITORY_PREFIX):
        return src_uri[len(REPOSITORY_PREFIX):]
    return f"{docs}/{src_uri}"


def _outside_fences(text):
    """The text split into (is_prose, chunk) pieces: links inside fenced code are never touched."""
    pieces, inside, start = [], False, 0
    for match in FENCE.finditer(text):
        pieces.append((not inside, text[start:match.start()]))
        start, inside = match.start(), not inside
    pieces.append((not inside, text[start:]))
    return pieces


def _relative_targets(text):
    for is_prose, chunk in _outside_fences(text):
        if not is_prose:
            continue
        for match in LINK.finditer(chunk):
            target = match.group(2)
            if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")):
                continue
            yield target.partition("#")[0]


def _resolve(repository_path, target):
    return posixpath.normpath(posixpath.join(posixpath.dirname(repository_path), target))


def on_files(files, config):
    """Adds README.md as the home page and every repository file the pages link to outside docs/."""
    root, docs = _repository_root(config), _docs_folder(config)
    pending = [HOME] + [_repository_path(file.src_uri, docs) for file in files.documentation_pages()]
    added = set()
    while pending:
        repository_path = pending.pop()
        if not repository_path.endswith(".md"):
            continue
        with open(os.path.join(root, repository_path), encoding="utf-8") as handle:
            text = handle.read()
        targets = [_resolve(repository_path, target) for target in _relative_targets(text)]
        for target in [repository_path] + targets:
            if target in added or target.startswith("../") or target.startswith(docs + "/"):
                continue
            if not os.path.isfile(os.path.join(root, target)):
                continue  # left as written: MkDocs reports the broken link
            site_path = _site_path(target, docs)
            if files.get_file_from_path(site_path) is None:
                inclusion = InclusionLevel.INCLUDED if site_path == "index.md" else InclusionLevel.NOT_IN_NAV
                files.append(File.generated(config, site_path, abs_src_path=os.path.join(root, target),
                                            inclusion=inclusion))
            added.add(target)
            pending.append(target)
    return files


def _rewrite_links(text, repository_path, src_uri, docs, root):
    def replace(match):
        target = match.group(2)
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match.group(0)
        path, hash_, anchor = target.partition("#")
        resolved = _resolve(repository_path, path)
        if resolved.startswith("../") or not os.path.exists(os.path.join(root, resolved)):
            return match.group(0)
        site_target = _site_path(resolved, docs)
        relative = posixpath.relpath(site_target, posixpath.dirname(src_uri) or ".")
        return f"{match.group(1)}{relative}{hash_}{anchor}{match.group(3)}"

    return "".join(LINK.sub(replace, chunk) if is_prose else chunk for is_prose, chunk in _outside_fences(text))


def on_page_markdown(markdown, page, config, files):
    """Relative links of the repository's layout -> the site's layout; "Not run" lines -> note admonitions."""
    root, docs = _repository_root(config), _docs_folder(config)
    repository_path = _repository_path(page.file.src_uri, docs)
    markdown = _rewrite_links(markdown, repository_path, page.file.src_uri, docs, root)
    return NOT_RUN.sub(
        lambda match: f'{match.group(1)}!!! note "Not run in the test suite"\n{match.group(1)}    {match.group(2)}\n',
        markdown,
    )
