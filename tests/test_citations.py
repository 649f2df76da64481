"""Every fact the code cites ships with it: each ``docs/...md`` path named in the code, tests,
notebooks and docs exists, each ``docs/reference/<file>.md §N`` names a section that the file has,
and nothing cites files outside the repository (``reference/*.md`` without ``docs/``,
``papers/00N``, the shared ``DESIGN.md``)."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC_PATH = re.compile(r"(?<![\w/.])docs/[\w/.-]+?\.md")
REFERENCE = re.compile(r"(?<![\w.])((?:\.\./shared/|docs/)?reference/[\w]+\.md)")
SECTION = re.compile(r"§\s?([A-Z](?![a-z])|\d+(?:\.\d+)*)")
OUTSIDE = [(re.compile(r"(?<![\w/])papers/0\d\d"), "papers/00N (cite the title or the number in "
                                                       "docs/reference/README.md)"),
           (re.compile(r"(?<![\w/])(?:\.\./shared/)?DESIGN\.md"), "DESIGN.md (docs/design.md)")]


def _files():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in listed if (f.endswith((".py", ".md", ".ipynb")) or f in ("Makefile",))
            and not f.startswith(("docs/reference/", "tests/data/")) and f != "tests/test_citations.py"]


def _headings(path):
    ids = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^#+\s+(?:§\s?)?([A-Z]|\d+(?:\.\d+)*)[.\s:)]", line)
        if m:
            ids.add(m.group(1))
    return ids


def problems(text: str, where: str) -> list[str]:
    """Citation problems in ``text`` (one file's content); paths are relative to the repository."""
    out = []
    for pattern, what in OUTSIDE:
        for m in pattern.finditer(text):
            out.append(f"{where}: cites {m.group(0)}, which is not in the repository: {what}")
    for line in text.splitlines():
        for m in DOC_PATH.finditer(line):
            if not os.path.exists(os.path.join(ROOT, m.group(0))):
                out.append(f"{where}: cites {m.group(0)}, which does not exist")
        matches = list(REFERENCE.finditer(line))
        for i, m in enumerate(matches):
            cited = m.group(1)
            if not cited.startswith("docs/"):
                out.append(f"{where}: cites {cited} outside the repository (use docs/{cited.split('shared/')[-1]})")
                continue
            path = os.path.join(ROOT, cited)
            if not os.path.exists(path):
                continue                            # reported by DOC_PATH above
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            heads = _headings(path)
            for section in SECTION.findall(line[m.end():end]):
                if section not in heads and section.split(".")[0] not in heads:
                    out.append(f"{where}: cites {cited} §{section}, which has no such section")
    return out


def test_every_citation_resolves_to_a_file_and_section_in_the_repository():
    found = []
    for f in _files():
        found += problems(open(os.path.join(ROOT, f), encoding="utf-8").read(), f)
    assert not found, "\n".join(found)


def test_the_checker_catches_missing_files_sections_and_outside_citations():
    text = ("see docs/reference/hourglass.md §2.2 and docs/reference/hourglass.md §99;\n"
            "reference/handpose.md §7; papers/003; docs/nothing.md; ../shared/DESIGN.md\n")
    found = problems(text, "x.py")
    assert any("§99" in p for p in found) and not any("§2.2" in p for p in found)
    assert any("reference/handpose.md outside" in p for p in found)
    assert any("papers/003" in p for p in found) and any("docs/nothing.md" in p for p in found)
    assert any("DESIGN.md" in p for p in found)
