"""Every document the repository refers to is in the repository (issue 18): a clone has nothing beside it.

Every text file of the checkout (tracked, or new and not ignored; the vendored Data Docs assets, the
bench records and the data files aside) is read for references to documents, and each must resolve
inside the checkout:

- a Markdown link (``[text](docs/kpis.md#service-level)``), relative to the linking file, and its
  anchor, a heading of the target (GitHub's anchors);
- a document named in prose or code (``DECISIONLOG.md``, ``docs/formats.md``), relative to the file's
  folder or one above it (a bare file name: any file of the repository's);
- a section quoted after the README or a page of ``docs/`` (``README "Quickstart"``,
  ``docs/operations.md, "Backfill"``), and a ``section "..."`` inside one of them: a heading of that
  document that starts with the quoted words;
- and no relative path climbs out of the checkout (``../`` past its root: a sibling folder a clone lacks).
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

from tests.conftest import REPO

# Not prose: vendored third-party assets, machine-written bench records, data files.
SKIPPED = (
    "include/callops/quality/data_docs_vendor/", "docs/bench/", "docs/data/", "requirements.lock",
    "tests/test_doc_links.py",  # its own examples of what it finds
)
# a relative path that starts by going up: it must stay inside the checkout
CLIMB = re.compile(r"(?<![\w./-])((?:\.\./)+[\w.-]+(?:/[\w.-]+)*)")
OUTSIDE = re.compile(r"\bshared/data\b")  # the development notes' data folder, however it is reached
URL = re.compile(r"https?://[^\s)>\"'`]+")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# a document's name or path; not one inside a pattern (`_<dir>__docs.md`, `*.md`) or a longer path
DOCUMENT = re.compile(r"(?<![\w./<>{}*$-])((?:\.{1,2}/)*(?:[\w.-]+/)*[\w-]+\.md)\b")
SECTION = re.compile(r"\b(README(?:\.md)?|docs/[\w-]+\.md),? \"([^\"]+)\"")
SAME_FILE_SECTION = re.compile(r"\bsections? \"([^\"]+)\"")


@cache
def listed() -> tuple[str, ...]:
    """The checkout's files: tracked, or new and not ignored."""
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    return tuple(sorted(set(names)))


def text_files() -> list[Path]:
    files = []
    for name in listed():
        path = REPO / name
        if name.startswith(SKIPPED) or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        files.append(path)
    return files


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def headings(path: Path) -> tuple[str, ...]:
    """The headings of a Markdown file, as written (fenced code blocks left out)."""
    found, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            found.append(re.sub(r"`", "", match.group(1)).strip())
    return tuple(found)


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(path):
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        result.add(anchor if count == 0 else f"{anchor}-{count}")
    return frozenset(result)


def has_section(path: Path, words: str) -> bool:
    return any(heading.startswith(words) for heading in headings(path))


def problems_in(path: Path, text: str | None = None) -> list[str]:
    relative = path.relative_to(REPO)
    text = path.read_text(encoding="utf-8") if text is None else text
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{relative}:{number}"
        climbs_out = any(not (path.parent / climb).resolve().is_relative_to(REPO) for climb in CLIMB.findall(line))
        if climbs_out or OUTSIDE.search(line):
            found.append(f"{where}: points outside the repository: {line.strip()}")
        if path.suffix == ".md":
            for target in LINK.findall(line):
                found += link_problems(path, target, where)
            line = LINK.sub("]()", line)  # a link's target is checked as a link
        for name in DOCUMENT.findall(URL.sub(" ", line)):
            if not names_a_file(path, name):
                found.append(f"{where}: names {name}, which is not in the repository")
    # A quoted section may wrap onto the next line (of a comment, a docstring or a YAML block).
    flat = re.sub(r"\s*\n\s*(?:#+\s|--\s)?\s*", " ", text)
    for document, words in SECTION.findall(flat):
        target = REPO / (document if document.endswith(".md") else f"{document}.md")
        if target.is_file() and not has_section(target, words):
            found.append(f"{relative}: {document} has no section \"{words}\"")
    if path.suffix == ".md" and (path.parent == REPO or path.parent == REPO / "docs"):
        for words in SAME_FILE_SECTION.findall(flat):
            if not has_section(path, words):
                found.append(f"{relative}: section \"{words}\" is not a heading of this page (link another page's)")
    return found


def names_a_file(path: Path, name: str) -> bool:
    """A path resolves from the naming file's folder or one above it (``models/overview.md`` in the dbt
    project, ``docs/kpis.md`` from anywhere); a bare file name is some file of the repository's."""
    if "/" not in name and name in basenames():
        return True
    folders = [folder for folder in (path.parent, *path.parent.parents) if folder.is_relative_to(REPO)]
    return any((folder / name).is_file() for folder in folders)


@cache
def basenames() -> frozenset[str]:
    return frozenset(Path(name).name for name in listed())


def link_problems(path: Path, target: str, where: str) -> list[str]:
    if re.match(r"[a-z]+:", target):
        return []  # a URL
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.is_relative_to(REPO.resolve()):
        return [f"{where}: links {target}, outside the repository"]
    if not linked.exists():
        return [f"{where}: links {target}, which does not exist"]
    if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
        return [f"{where}: links {target}, but {linked.name} has no heading with that anchor"]
    return []


def test_every_referenced_document_and_section_is_in_the_repository():
    files = text_files()
    assert REPO / "README.md" in files and REPO / "DECISIONLOG.md" in files
    problems = [problem for path in files for problem in problems_in(path)]
    assert problems == [], "references that a clone cannot follow:\n" + "\n".join(problems)


def test_the_check_finds_what_a_clone_lacks():
    """The scan itself, on a page of docs/ given this text: each kind of dangling reference is found."""
    page = REPO / "docs" / "kpis.md"
    text = (
        'See NOTES.md, [the README](../README.md#no-such-heading), README "No such section", [gone](gone.md),\n'
        'section "Nowhere on this page", and ../../beside/data/month.\n'
        'Fine: DECISIONLOG.md, docs/formats.md, [the README](../README.md#callops), README "Quickstart".\n'
    )
    found = problems_in(page, text)
    assert any("names NOTES.md" in problem for problem in found), found
    assert any("README.md#no-such-heading" in problem for problem in found), found
    assert any('no section "No such section"' in problem for problem in found), found
    assert any("links gone.md, which does not exist" in problem for problem in found), found
    assert any('section "Nowhere on this page" is not a heading' in problem for problem in found), found
    assert any("outside the repository" in problem for problem in found), found
    assert len(found) == 6, found
