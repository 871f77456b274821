"""A students' copy of the kit: every tracked file but `solutions/`, with the Colab badges, the lessons'
install URL and every link to the kit's repository pointed at the course's own repository.

    make student-copy DEST=../course-kit REPO_URL=https://github.com/my-course/score-kit
    python tools/student_copy.py --dest ../course-kit --repo-url https://github.com/my-course/score-kit

What changes in the copy, and nothing else:
- `solutions/` (code solutions and the discussion answer key) is left out;
- `https://github.com/score-kit/score-kit` becomes REPO_URL, and the Colab badges open the notebooks from
  REPO_URL's branch (`--branch`, default main);
- the sentences telling students where the solutions are say they are with the instructor;
- each notebook's source digest is re-stamped, so the copy's `make test` still sees outputs that match.
The copy is a plain folder (no git history, so no solutions in it either): push it as a new repository.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebook import source_digest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KIT = "score-kit/score-kit"
"""The kit's own GitHub repository (owner/name), as README and the notebooks link it."""
LEFT_OUT = ("solutions/",)
SOLUTION_NOTES = {
    "Solutions to the *your turn* exercises are in `solutions/` at the root of the kit, not in this notebook.":
        "Solutions to the *your turn* exercises are with your instructor.",
    "Reference solutions are in `solutions/` at the root of the kit.": "Reference solutions are with your instructor.",
    "(reference solutions for instructors: `solutions/`)": "(reference solutions: with your instructor)",
}
"""Sentences of the kit that point at `solutions/` -> what the students' copy says instead."""
GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+?)(?:\.git)?/?$")


class CopyError(RuntimeError):
    """A students' copy that cannot be made, in one line."""


def repository(url: str) -> str:
    """owner/name of a GitHub URL (Colab opens notebooks from GitHub); a CopyError for anything else."""
    match = GITHUB.match(url.strip())
    if not match:
        raise CopyError(f"REPO_URL must be a GitHub repository, https://github.com/<owner>/<name> (Colab opens "
                        f"notebooks from GitHub), got {url!r}")
    return match.group(1)


def tracked_files(root: Path = ROOT) -> list[str]:
    """The kit's files as git tracks them (no virtual environments, runs or caches)."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise CopyError(f"{root} is not a git checkout of the kit (git ls-files failed: {e})") from None
    return [p for p in out.decode().split("\0") if p and not p.startswith(LEFT_OUT)]


def rewrite(text: str, repo: str, branch: str) -> str:
    """`text` with the kit's repository links pointed at `repo` and the solution notes replaced."""
    text = text.replace(f"colab.research.google.com/github/{KIT}/blob/main/",
                        f"colab.research.google.com/github/{repo}/blob/{branch}/")
    text = text.replace(f"https://github.com/{KIT}", f"https://github.com/{repo}")
    for old, new in SOLUTION_NOTES.items():
        text = text.replace(old, new)
    return text


def make_copy(dest: Path, repo_url: str, branch: str = "main", root: Path = ROOT) -> list[str]:
    """Write the students' copy of the kit at `root` into `dest` (absent or empty). Returns the files written."""
    repo = repository(repo_url)
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", branch):
        raise CopyError(f"--branch must be a plain branch name, got {branch!r}")
    dest = Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CopyError(f"DEST {dest} exists and is not an empty folder: name a new one")
    if dest == root or root in dest.parents:
        raise CopyError(f"DEST {dest} is inside the kit: name a folder outside it")
    files = tracked_files(root)
    for rel in files:
        source, target = root / rel, dest / rel
        if not source.is_file():  # tracked but deleted in the work tree
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".ipynb":
            nb = nbformat.read(source, as_version=4)
            for cell in nb.cells:
                cell.source = rewrite(cell.source, repo, branch)
            if "source_sha256" in nb.metadata.get("scoreutils", {}):
                nb.metadata["scoreutils"]["source_sha256"] = source_digest(nb)
            nbformat.write(nb, target)
            continue
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary (figures, archives): as it is
            shutil.copy2(source, target)
            continue
        target.write_text(rewrite(text, repo, branch), encoding="utf-8")
        shutil.copymode(source, target)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", required=True, help="a new (or empty) folder for the copy")
    parser.add_argument("--repo-url", required=True, help="the course's GitHub repository, https://github.com/<owner>/<name>")
    parser.add_argument("--branch", default="main", help="the branch Colab opens the notebooks from (default main)")
    args = parser.parse_args(argv)
    try:
        files = make_copy(Path(args.dest), args.repo_url, args.branch)
    except CopyError as e:
        print(f"student-copy: {e}", file=sys.stderr)
        return 2
    print(f"students' copy: {len(files)} files in {Path(args.dest).resolve()} (no solutions/), linked to "
          f"{args.repo_url}.\nNext: cd {args.dest} && git init -b {args.branch} && git add -A && "
          f"git commit -m 'Course kit' && git push {args.repo_url} {args.branch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
