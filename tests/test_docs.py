"""The kit's notes hold together: docs/ is what the code and lessons point to, every relative link and
every `docs/<file>.md#section` mention resolves, no tracked file points to notes that do not exist, and
the license pyproject.toml declares is there."""
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Upper-case note names that never existed in the repository; spelled in pieces so this file does not
# contain them itself.
MISSING_NOTES = tuple(name + ".md" for name in ("PAPER", "DESIGN"))
LINK_RE = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
MENTION_RE = re.compile(r"(?<![\w/.-])docs/([\w-]+\.md)(?:#([\w-]+(?:\.[\w-]+)*))?")
FENCE_RE = re.compile(r"^\s*(```|~~~)")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def read_text(path: Path) -> str | None:
    """The file's text, or None for binary files and files deleted in the working tree."""
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Anchors of every heading outside fenced code, numbered like GitHub's when repeated."""
    seen: dict[str, int] = {}
    found, fenced = set(), False
    for line in markdown.splitlines():
        if FENCE_RE.match(line):
            fenced = not fenced
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def markdown_sources() -> list[tuple[Path, str]]:
    """(file, Markdown text) for every tracked .md file and every notebook's markdown cells."""
    sources = []
    for path in tracked_files():
        if path.suffix == ".md" and (text := read_text(path)) is not None:
            sources.append((path, text))
        elif path.suffix == ".ipynb" and path.exists():
            nb = nbformat.read(path, as_version=4)
            sources.append((path, "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")))
    return sources


def broken_links(path: Path, text: str) -> list[str]:
    """The relative links in `text` (Markdown of `path`) whose file, or whose heading in a .md file, is missing."""
    bad = []
    for target in LINK_RE.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            bad.append(f"{target} (no such section)")
    return bad


def broken_mentions(text: str) -> list[str]:
    """`docs/<file>.md#section` mentions (in code, comments, prose) that do not resolve."""
    bad = []
    for name, anchor in MENTION_RE.findall(text):
        dest = ROOT / "docs" / name
        if not dest.exists():
            bad.append(f"docs/{name} (no such file)")
        elif anchor and anchor not in anchors(dest.read_text(encoding="utf-8")):
            bad.append(f"docs/{name}#{anchor} (no such section)")
    return bad


def test_no_tracked_file_points_to_missing_notes():
    offenders = []
    for path in tracked_files():
        text = read_text(path)
        if text is not None:
            offenders += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(text.splitlines(), 1)
                          if any(name in line for name in MISSING_NOTES)]
    assert not offenders, "references to notes that do not exist (point to docs/ instead): " + ", ".join(offenders)


def test_the_notes_exist_and_link_the_paper():
    for name in ("README.md", "paper.md", "design.md"):
        assert (ROOT / "docs" / name).is_file(), f"docs/{name} is missing"
    paper = (ROOT / "docs" / "paper.md").read_text(encoding="utf-8")
    assert "https://arxiv.org/abs/2409.12917" in paper
    for section in ("S3", "S4", "S5.SS1", "S5.SS2", "S6"):
        assert f"https://arxiv.org/html/2409.12917#{section}" in paper, f"docs/paper.md does not link #{section}"


def test_license_is_the_one_pyproject_declares():
    license_file = ROOT / "LICENSE"
    assert license_file.is_file(), "LICENSE is missing"
    text = license_file.read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert re.search(r'^license\s*=\s*"Apache-2.0"', (ROOT / "pyproject.toml").read_text(), re.M)


@pytest.mark.parametrize("path", sorted({ROOT / "README.md", *(ROOT / "docs").glob("*.md")}),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_readme_and_docs_links_resolve(path):
    assert not broken_links(path, path.read_text(encoding="utf-8"))


def test_every_markdown_link_in_the_repository_resolves():
    bad = [f"{path.relative_to(ROOT)}: {b}" for path, text in markdown_sources() for b in broken_links(path, text)]
    assert not bad, "broken relative links: " + "; ".join(bad)


def test_every_docs_mention_resolves():
    bad = []
    for path in tracked_files():
        text = read_text(path)
        if text is not None:
            bad += [f"{path.relative_to(ROOT)}: {b}" for b in broken_mentions(text)]
    assert not bad, "mentions of docs/ that do not resolve: " + "; ".join(bad)


# The checkers themselves, on planted mistakes.
def test_slugs_and_anchors_follow_github():
    md = "# Notes\n## The kit's choices\n```text\n# not a heading\n```\n## Stage I\n## Stage I\n### `code` *x*\n"
    assert anchors(md) == {"notes", "the-kits-choices", "stage-i", "stage-i-1", "code-x"}


def test_checkers_catch_planted_mistakes(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n## Real section\n")
    text = "[ok](page.md#real-section) [gone](nowhere.md) [bad](page.md#missing) [self](#title) [web](https://x.org/a)"
    assert broken_links(page, text) == ["nowhere.md (no such file)", "page.md#missing (no such section)"]
    d = "docs/"  # split so that this file's own text holds no broken mention
    assert broken_mentions(f"see {d}paper.md#metrics, {d}paper.md#no-such-part and {d}nowhere.md.") == [
        f"{d}paper.md#no-such-part (no such section)", f"{d}nowhere.md (no such file)"]
