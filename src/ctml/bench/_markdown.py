"""Sections of docs/benchmarks.md, each between its own marker comments, written by the command that measured it.

>>> import tempfile, pathlib
>>> doc = pathlib.Path(tempfile.mkdtemp()) / "benchmarks.md"
>>> write_section(doc, "<!-- a: start -->\\none\\n<!-- a: end -->\\n")
>>> write_section(doc, "<!-- a: start -->\\ntwo\\n<!-- a: end -->\\n")
>>> print(doc.read_text(), end="")
# Benchmarks
<BLANKLINE>
<!-- a: start -->
two
<!-- a: end -->
"""

from __future__ import annotations

from pathlib import Path

from ctml.errors import ConfigError

__all__ = ["write_section"]


def write_section(document: Path, section: str) -> None:
    """Replace the section of ``document`` between the markers that open and close ``section`` (or append it).

    Every other section is left as it was, so each benchmark command rewrites only its own.
    """
    lines = section.strip("\n").splitlines()
    if len(lines) < 2 or not (lines[0].startswith("<!--") and lines[-1].startswith("<!--")):
        raise ConfigError("A benchmarks section must open and close with a marker comment (<!-- ... -->).")
    start, end = lines[0], lines[-1]
    text = document.read_text() if document.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    document.write_text(text)
