"""Reading old-site text files: bytes in, numbered lines and findings out.

Sendmail's tables are byte files; admins leave Latin-1 names, CRLF endings
and NUL bytes in them.  Every parser in this package reads through here so a
file that is not clean UTF-8 still yields its lines (decoded as Latin-1, as
sendmail itself would treat the bytes) plus one Finding saying so, and a
missing file is told apart from an empty one.

DIAGNOSTICS: SM001 (file not UTF-8), SM002 (CR line endings), SM003 (NUL byte).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from converters.finding import Finding


@dataclass(frozen=True)
class SourceLine:
    """One physical line of an old file, with its 1-based number."""

    file: str
    number: int
    text: str


@dataclass(frozen=True)
class TextFile:
    """The lines of one old file; ``exists`` is False for a file that cannot be read.

    ``problem`` then says why, in words that complete "/etc/mail/aliases ...":
    it is missing, a directory, a link to nothing, or only its compiled map.
    """

    path: str
    exists: bool
    lines: tuple[SourceLine, ...]
    findings: tuple[Finding, ...]
    problem: str = ""


#: More links than this on one path is a loop (the kernel's limit is 40 too).
MAX_LINKS = 40


def old_path(root: Path, absolute: str) -> Path:
    """Where the old absolute path ``/etc/mail/x`` lives below ``root``.

    Symbolic links are followed as the old host followed them: an absolute
    target (Debian's ``/etc/mail/aliases -> /etc/aliases``) is below
    ``root`` too, never a file of this machine.
    """
    parts = [p for p in absolute.split("/") if p]
    current: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current[:-1]
            continue
        if part == ".":
            continue
        here = root.joinpath(*current, part)
        if here.is_symlink() and links < MAX_LINKS:
            links += 1
            target = os.readlink(here)
            parts = [p for p in target.split("/") if p] + parts
            if target.startswith("/"):
                current = []
            continue
        current.append(part)
    return root.joinpath(*current)


def unreadable(root: Path, absolute: str) -> str:
    """Why the old file ``absolute`` cannot be read as text ("" when it can)."""
    path = old_path(root, absolute)
    if path.is_file():
        return ""
    if path.is_dir():
        return "is a directory"
    link = root / absolute.lstrip("/")
    if link.is_symlink():
        return f"is a symbolic link to {os.readlink(link)}, which is not in the old tree"
    if old_path(root, absolute + ".db").is_file():
        return f"is missing; only the compiled {posixpath.basename(absolute)}.db is there"
    return "is missing"


def read_text(root: Path, absolute: str) -> TextFile:
    """Read ``absolute`` (an old-server path) below ``root``; never raises for bad bytes."""
    problem = unreadable(root, absolute)
    if problem:
        return TextFile(absolute, False, (), (), problem)
    return decode_lines(absolute, old_path(root, absolute).read_bytes())


def decode_lines(name: str, data: bytes) -> TextFile:
    """Split ``data`` into lines named ``name``, reporting bytes sendmail would not expect."""
    findings: list[Finding] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("latin-1")
        line = data[: exc.start].count(b"\n") + 1
        findings.append(Finding(
            "warning", name, line, "", "file is not UTF-8; read as Latin-1",
            "check non-ASCII names in this file by hand", code="SM001"))
    if "\r" in text:
        findings.append(Finding(
            "info", name, text[: text.index("\r")].count("\n") + 1, "",
            "CR line endings removed", code="SM002"))
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        findings.append(Finding(
            "warning", name, text[: text.index("\0")].count("\n") + 1, "",
            "NUL byte in file; dropped", code="SM003"))
        text = text.replace("\0", "")
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    lines = tuple(SourceLine(name, i, t) for i, t in enumerate(raw, start=1))
    return TextFile(name, True, lines, tuple(findings))
