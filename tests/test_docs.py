"""Docs are code: every README's links resolve, every module it names exists, and it stays short.

A README is the front door (``/work/shared/STYLE.md``, "Docs as a front door"): when a module
moves or a section is renamed, a link or a path in a README goes stale without anyone noticing.
These tests make that drift fail CI instead of misleading the next reader. They read files only
(no imports of the package), so they take well under a second.

What counts as a named module or path, kept strict but not brittle:

- relative Markdown links ``[text](target)`` (``http(s):`` and ``mailto:`` are not checked): the
  target must exist, relative to the README; an ``#anchor`` into a Markdown file must be one of
  its headings (GitHub's slugs). The text of a link is checked through its target only;
- inline code outside fenced blocks that looks like a repository path: one word (with or without ``/``
  separators) ending in ``.py``, ``.yaml`` or ``.yml``, or a folder ending in ``/``; it must
  exist relative to the README's folder or to the repository root (``file.py::name`` also needs
  ``name`` defined in the file);
- inline code ``landmarkgait.<data|models|pipelines>.…``, or a call ``landmarkgait.name(...)``: a
  module of the package, and any remaining names defined in it (other dotted names, such as the
  MLflow tags ``landmarkgait.kind``, are not modules);
- in commands, inline or in fenced code blocks, paths into the repository's own folders
  (``ray_configs/….yaml``, ``benchmarks/….py``, …).

Names that live outside this repository (MLflow artifacts, files a command writes) are listed in
``NOT_IN_REPOSITORY``, each with the reason.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES_TOP = 250
MAX_LINES_OTHER = 300
EXCLUDED_DIRS = {"build", "dist", "node_modules", "__pycache__"}

# Inline-code paths a README names that are not files of this repository, and why.
NOT_IN_REPOSITORY = {
    "config/resolved.yaml": "the MLflow artifact of a run's resolved config",
}

TOP_LEVEL_FOLDERS = ("pipelines", "models", "data", "ray_configs", "benchmarks", "tests", ".ci")
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
PATH_TOKEN = re.compile(r"[\w.][\w.\-/]*")
# ``landmarkgait.<subpackage>.…`` or a call ``landmarkgait.name(...)``; other dotted names
# (the MLflow tags ``landmarkgait.kind``, ``landmarkgait.sweep.best``) are not modules.
DOTTED_NAME = re.compile(r"(landmarkgait\.(\w+)(?:\.\w+)*)(\([^)]*\))?")
SUBPACKAGES = ("data", "models", "pipelines")
FOLDERS = "|".join(re.escape(folder) for folder in TOP_LEVEL_FOLDERS)
CODE_BLOCK_PATH = re.compile(rf"(?<![\w/.~$-])((?:{FOLDERS})/[\w./-]*\.(?:py|ya?ml))\b")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
EXTERNAL = re.compile(r"^(https?:|mailto:)", re.I)


def excluded(name: str) -> bool:
    return name.startswith(".") or name in EXCLUDED_DIRS or name.endswith(".egg-info")


def find_readmes() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not excluded(d))
        found.extend(Path(folder) / name for name in sorted(files) if re.fullmatch(r"README.*\.md", name))
    return found


READMES = find_readmes()


def label(readme: Path) -> str:
    return str(readme.relative_to(REPO))


def without_fences(text: str) -> str:
    """The text with fenced code blocks blanked (their line count kept for messages)."""
    return FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text)


def line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: rendered text, lower case, punctuation dropped, '-' for ' '."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links render as their text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    slugs: set[str] = set()
    for match in HEADING.finditer(without_fences(markdown.read_text())):
        slug = base = github_slug(match.group(1))
        count = 0
        while slug in slugs:
            count += 1
            slug = f"{base}-{count}"
        slugs.add(slug)
    return slugs


def inside_repo(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO)
    except ValueError:
        return False
    return True


def link_problems(readme: Path, text: str | None = None) -> list[str]:
    """Stale relative links of ``readme`` (or of ``text`` read as if it were that file)."""
    text = without_fences(readme.read_text() if text is None else text)
    targets = [(m.start(), m.group(2)) for m in LINK.finditer(text)]
    targets += [(m.start(), m.group(1)) for m in REFERENCE_LINK.finditer(text)]
    problems = []
    for position, target in targets:
        where = f"{label(readme)}:{line_of(text, position)}: link {target!r}"
        if EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        path = (readme.parent / urllib.parse.unquote(path_part)).resolve() if path_part else readme
        if not inside_repo(path):
            problems.append(f"{where} leaves the repository")
        elif not path.exists():
            problems.append(f"{where} does not resolve ({path.relative_to(REPO)} is missing)")
        elif anchor and path.suffix == ".md" and urllib.parse.unquote(anchor) not in anchors(path):
            problems.append(f"{where}: no heading #{anchor} in {path.relative_to(REPO)}")
    return problems


def exists_from(readme: Path, relative: str) -> Path | None:
    for base in (readme.parent, REPO):
        path = (base / relative).resolve()
        if inside_repo(path) and path.exists():
            return path
    return None


def defines(source: str, name: str) -> bool:
    pattern = (
        rf"^\s*(?:async\s+def|def|class)\s+{name}\b"  # a function or class
        rf"|^\s*{name}\s*(?::[^=\n]*)?="  # an assignment, annotated or not
        rf"|^\s*(?:from\s+\S+\s+)?import\s[^\n]*\b{name}\b"  # a re-export
        rf"|[\"']{name}[\"']\s*:"  # a lazily imported attribute (``_API``)
    )
    return re.search(pattern, source, re.M) is not None


def dotted_problem(name: str) -> str | None:
    """None if ``landmarkgait.a.b.c`` is a module of the package, or names defined in one."""
    parts = name.split(".")[1:]
    for split in range(len(parts), -1, -1):
        base = REPO.joinpath(*parts[:split])
        module = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if split == 0:
            module = REPO / "__init__.py"
        if module.is_file():
            break
    rest = parts[split:]
    if len(rest) > 2:
        return f"no module {'.'.join(['landmarkgait', *parts[: split + 1]])}"
    source = module.read_text()
    for attribute in rest:
        if not defines(source, attribute):
            return f"{attribute!r} is not defined in {module.relative_to(REPO)}"
    return None


def path_problems(readme: Path, raw: str | None = None) -> list[str]:
    """Missing paths and modules ``readme`` names (or ``raw`` read as if it were that file)."""
    raw = readme.read_text() if raw is None else raw
    text = without_fences(raw)
    # The text of a link is checked through its target (a link to another site names a file of
    # another repository): blank it, keeping positions for line numbers.
    text = LINK.sub(lambda m: " " * len(m.group(0)), text)
    problems = []
    for match in CODE_SPAN.finditer(text):
        code = match.group(2).strip()
        where = f"{label(readme)}:{line_of(text, match.start())}: `{code}`"
        if code in NOT_IN_REPOSITORY:
            continue
        dotted = DOTTED_NAME.fullmatch(code)
        if dotted and (dotted.group(2) in SUBPACKAGES or dotted.group(3)):
            problem = dotted_problem(dotted.group(1))
            if problem:
                problems.append(f"{where}: {problem}")
            continue
        file_part, _, member = code.partition("::")
        if not PATH_TOKEN.fullmatch(file_part):  # a command: the repository paths in it
            for path_match in CODE_BLOCK_PATH.finditer(code):
                if exists_from(readme, path_match.group(1)) is None:
                    problems.append(f"{where}: {path_match.group(1)} is missing")
            continue
        if not re.search(r"(\.py|\.ya?ml|/)$", file_part):
            continue
        path = exists_from(readme, file_part)
        if path is None:
            problems.append(f"{where} names a path that exists neither beside the README nor at the root")
        elif member and not defines(path.read_text(), member.split("[")[0]):
            problems.append(f"{where}: {member!r} is not defined in {path.relative_to(REPO)}")
    for match in FENCE.finditer(raw):
        for path_match in CODE_BLOCK_PATH.finditer(match.group(0)):
            if exists_from(readme, path_match.group(1)) is None:
                line = line_of(raw, match.start() + path_match.start())
                problems.append(
                    f"{label(readme)}:{line}: command names {path_match.group(1)}, which is missing"
                )
    return problems


def test_readmes_are_found() -> None:
    names = {label(readme) for readme in READMES}
    assert {"README.md", "pipelines/README.md", "models/README.md", "data/README.md"} <= names
    assert not any(name.startswith((".venv", ".git")) for name in names)


@pytest.mark.parametrize("readme", READMES, ids=label)
def test_relative_links_resolve(readme: Path) -> None:
    problems = link_problems(readme)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("readme", READMES, ids=label)
def test_named_modules_and_paths_exist(readme: Path) -> None:
    problems = path_problems(readme)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("readme", READMES, ids=label)
def test_readme_is_short(readme: Path) -> None:
    limit = MAX_LINES_TOP if readme == REPO / "README.md" else MAX_LINES_OTHER
    lines = len(readme.read_text().splitlines())
    assert lines <= limit, (
        f"{label(readme)} has {lines} lines, more than {limit}: move detail to where it belongs"
    )


def test_the_checks_catch_drift() -> None:
    """The checks themselves: a stale link, anchor, path and dotted name are each reported."""
    assert github_slug("Sweep configs: `landmarkgait sweep`") == "sweep-configs-landmarkgait-sweep"
    assert github_slug("Reading silhouettes: Parquet against OpenGait's pickles") == (
        "reading-silhouettes-parquet-against-opengaits-pickles"
    )
    assert dotted_problem("landmarkgait.models.registry.STAGE_SPECS") is None
    assert dotted_problem("landmarkgait.embed") is None
    assert dotted_problem("landmarkgait.models.no_such_module") is not None
    assert dotted_problem("landmarkgait.models.registry.no_such_name") is not None

    readme = REPO / "models" / "README.md"
    stale = "\n".join(
        [
            "[gone](no_such_file.md) [anchor](../README.md#no-such-heading) [web](https://example.com/x)",
            "`no_such_module.py` `pipelines/driver/no_such.py` `registry.py` `ray_configs/quickstart.yaml`",
            "[`elsewhere.py`](https://github.com/o/r/blob/HEAD/elsewhere.py) `landmarkgait.models.nope`",
            "`python benchmarks/no_such_script.py --run RUN`",
            "```bash\nlandmarkgait run ray_configs/no_such.yaml\n```",
        ]
    )
    links = link_problems(readme, stale)
    paths = path_problems(readme, stale)
    assert len(links) == 2 and "no_such_file.md" in links[0] and "no-such-heading" in links[1], links
    reported = "\n".join(paths)
    for name in (
        "no_such_module.py",
        "pipelines/driver/no_such.py",
        "benchmarks/no_such_script.py",
        "models.nope",
        "ray_configs/no_such.yaml",
    ):
        assert name in reported, paths
    for fine in ("`registry.py`", "ray_configs/quickstart.yaml`", "elsewhere.py"):
        assert fine not in reported, paths
