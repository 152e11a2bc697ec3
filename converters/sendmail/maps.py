"""makemap(8) source files and sendmail class files, read the way sendmail reads them.

virtusertable, mailertable, access and genericstable are all ``key value``
text files compiled by ``makemap hash``: ``#`` lines and blank lines are
skipped, the key is the first word and is folded to lower case, the value is
the rest of the line with its case kept.  A repeated key is reported by
makemap and *not* inserted (no ``-r``), so the first definition is the one
sendmail used.  Class files (local-host-names, relay-domains, the virtuser
domain file) add every word of every non-comment line to the class.

DIAGNOSTICS: SM010 (key without value), SM011 (duplicate key, first kept),
SM012 (line starts with white space), SM013 (several words on a class line).
"""

from __future__ import annotations

from dataclasses import dataclass

from converters.finding import Finding
from converters.sendmail.textfile import TextFile


@dataclass(frozen=True)
class MapEntry:
    """One key/value line of a makemap source file, with where it came from."""

    key: str
    value: str
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class ClassWord:
    """One member of a sendmail class read from a class file."""

    word: str
    file: str
    line: int


def parse_map(source: TextFile) -> tuple[tuple[MapEntry, ...], tuple[Finding, ...]]:
    """Entries of a makemap source in file order, first definition of each key only."""
    entries: dict[str, MapEntry] = {}
    findings: list[Finding] = list(source.findings)
    for ln in source.lines:
        text = ln.text
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if text[0] in " \t":
            findings.append(Finding(
                "warning", ln.file, ln.number, text,
                "line starts with white space; makemap reads an empty key",
                "remove the leading white space", code="SM012"))
            continue
        parts = text.split(None, 1)
        key = parts[0].lower()
        value = parts[1].strip() if len(parts) > 1 else ""
        if not value:
            findings.append(Finding(
                "warning", ln.file, ln.number, text,
                "key without value; makemap skips it", "add a value or delete the line",
                code="SM010", subject=key))
            continue
        if key in entries:
            first = entries[key]
            findings.append(Finding(
                "warning", ln.file, ln.number, text,
                f"duplicate key {key!r}; makemap kept the first definition (line {first.line})",
                "delete one of the two lines", code="SM011", subject=key))
            continue
        entries[key] = MapEntry(key, value, ln.file, ln.number, text)
    return tuple(entries.values()), tuple(findings)


def parse_class_file(source: TextFile) -> tuple[tuple[ClassWord, ...], tuple[Finding, ...]]:
    """Members of a class file (lower-cased, in order, without repeats)."""
    words: dict[str, ClassWord] = {}
    findings: list[Finding] = list(source.findings)
    for ln in source.lines:
        text = ln.text.strip()
        if not text or text.startswith("#"):
            continue
        # sendmail reads a class file with the scanf format "%s": the first word of
        # each line (checked with sendmail 8.17: `$=w` in -bt lists no second word).
        parts = text.split()
        if len(parts) > 1:
            findings.append(Finding(
                "warning", ln.file, ln.number, ln.text,
                f"several names on one line; sendmail used only {parts[0]!r} and ignored"
                f" {' '.join(parts[1:])}, and so does the translation",
                "put each name on a line of its own if it was meant", code="SM013"))
        word = parts[0].lower().rstrip(".")
        words.setdefault(word, ClassWord(word, ln.file, ln.number))
    return tuple(words.values()), tuple(findings)
