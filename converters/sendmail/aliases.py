"""/etc/mail/aliases parsed as sendmail 8.17 parses it (alias.c readaliases).

Why not reuse Postfix's reader: the two disagree on exactly the lines that
matter.  Sendmail joins a line ending in a backslash with the next one (no
separator); Postfix does not and drops the rest.  Sendmail treats an indented
``#`` line after an alias as more of its value; Postfix treats it as a
comment.  Debian's sendmail 8.17 keeps the LAST of duplicate names (with a
warning, checked with ``sendmail -bi`` and ``praliases``); postalias keeps the
first.  This module reproduces sendmail and reports each of these spots.

DESCRIPTION
    Lines are first joined at trailing backslashes, then a line starting with
    blank or tab continues the open alias, ``#`` lines and empty lines close
    it.  Names are folded to lower case and may be quoted.  Values are split
    at commas outside quotes, angle brackets and parentheses; each item is a
    local name, ``\\name`` (local, no further aliasing), ``user@domain``,
    ``|command``, ``/file``, ``:include:/file`` or ``error:...``.

DIAGNOSTICS
    SM020 indented line with no alias open; SM021 missing colon; SM022 name
    with ``@`` (sendmail refuses to alias non-local names); SM023 duplicate
    name (last kept); SM024 backslash continuation; SM025 indented ``#`` line
    read as addresses; SM026 empty value; SM027 unbalanced quote; SM028 name
    that is not ASCII (not carried over); SM029 name defined in an earlier
    file of ALIAS_FILE too (that one kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from converters.finding import Finding
from converters.sendmail.textfile import SourceLine, TextFile

TargetKind = Literal["local", "address", "program", "file", "include", "error", "comment"]


@dataclass(frozen=True)
class AliasTarget:
    """One item of an alias value, classified the way sendmail delivers it.

    ``local`` values with ``verbatim`` set came from ``\\name``: delivered to
    the user without another alias lookup.
    """

    kind: TargetKind
    value: str
    verbatim: bool = False


@dataclass(frozen=True)
class Alias:
    """One alias as sendmail stored it: lower-cased name, ordered targets, source line."""

    name: str
    targets: tuple[AliasTarget, ...]
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class _Logical:
    """An alias definition after continuation lines were joined."""

    line: int
    text: str
    comment_lines: tuple[str, ...]


def parse_aliases(source: TextFile) -> tuple[tuple[Alias, ...], tuple[Finding, ...]]:
    """All aliases of ``source`` (last definition of a name wins) plus findings."""
    findings: list[Finding] = list(source.findings)
    aliases: dict[str, Alias] = {}
    for logical in _logical_lines(source, findings):
        alias = _parse_definition(source.path, logical, findings)
        if alias is None:
            continue
        if alias.name in aliases:
            first = aliases[alias.name]
            findings.append(Finding(
                "warning", source.path, alias.line, alias.text,
                f"duplicate alias name {alias.name!r} (first at line {first.line}); sendmail"
                " 8.17 keeps this last definition, postalias would keep the first",
                "merge the two definitions into one", code="SM023", subject=alias.name))
            del aliases[alias.name]
        aliases[alias.name] = alias
    return tuple(aliases.values()), tuple(findings)


def merge_alias_files(per_file: list[tuple[Alias, ...]]
                      ) -> tuple[tuple[Alias, ...], tuple[Finding, ...]]:
    """The aliases of several files in ALIAS_FILE order: a name's first file wins.

    sendmail looks a name up in each alias database in turn and stops at the
    first that has it (checked with sendmail 8.17 -bv: ``root`` in both
    /etc/mail/aliases and a second file goes where the first says).
    """
    merged: dict[str, Alias] = {}
    findings: list[Finding] = []
    for aliases in per_file:
        for alias in aliases:
            first = merged.get(alias.name)
            if first is None:
                merged[alias.name] = alias
                continue
            findings.append(Finding(
                "warning", alias.file, alias.line, alias.text,
                f"alias {alias.name!r} is defined in an earlier alias file too"
                f" ({first.file}:{first.line}); sendmail used that one, and so does the"
                " translation", "delete one of the two definitions", code="SM029",
                subject=alias.name))
    return tuple(merged.values()), tuple(findings)


def _join_backslashes(lines: tuple[SourceLine, ...], findings: list[Finding]) -> list[SourceLine]:
    """Join physical lines that end in a backslash, as alias.c does before anything else."""
    out: list[SourceLine] = []
    i = 0
    while i < len(lines):
        first = lines[i]
        text = first.text
        while text.endswith("\\") and i + 1 < len(lines):
            findings.append(Finding(
                "info", first.file, lines[i].number, lines[i].text,
                "backslash continuation joined with the next line (Postfix would not"
                " join it); written out as one line", code="SM024"))
            i += 1
            text = text[:-1] + lines[i].text
        out.append(SourceLine(first.file, first.number, text))
        i += 1
    return out


def _logical_lines(source: TextFile, findings: list[Finding]) -> list[_Logical]:
    """Definitions with their indented continuation lines appended (separated by a blank)."""
    result: list[_Logical] = []
    current: _Logical | None = None
    for ln in _join_backslashes(source.lines, findings):
        text = ln.text
        if text[:1] in (" ", "\t"):
            if current is None:
                if text.strip():
                    findings.append(Finding(
                        "warning", ln.file, ln.number, text,
                        "non-continuation line starts with space; sendmail ignores it",
                        "join it to the alias it belongs to", code="SM020"))
                continue
            comments = current.comment_lines
            if text.lstrip().startswith("#"):
                findings.append(Finding(
                    "warning", ln.file, ln.number, text,
                    "indented '#' line inside an alias: sendmail reads it as more addresses"
                    " (Postfix would read a comment)",
                    "move the comment to column 1 or delete it", code="SM025"))
                comments = comments + (text.strip(),)
            current = _Logical(current.line, current.text + " " + text.strip(), comments)
            continue
        if current is not None:
            result.append(current)
            current = None
        if not text.strip() or text.startswith("#"):
            continue
        current = _Logical(ln.number, text, ())
    if current is not None:
        result.append(current)
    return result


def _parse_definition(path: str, logical: _Logical, findings: list[Finding]) -> Alias | None:
    """``name: value`` to an Alias, or None (with a finding) when sendmail would refuse it."""
    text = logical.text
    name, rest = _split_name(text)
    if rest is None:
        findings.append(Finding(
            "error", path, logical.line, text, "missing colon; sendmail skips this line",
            "write it as 'name: address, ...'", code="SM021"))
        return None
    if not name:
        findings.append(Finding(
            "error", path, logical.line, text, "empty alias name; sendmail skips this line",
            code="SM021"))
        return None
    if "@" in name:
        findings.append(Finding(
            "error", path, logical.line, text,
            "cannot alias non-local names: sendmail never used this entry",
            "put the address into virtusertable if it was meant", code="SM022", subject=name))
        return None
    if not name.isascii():
        findings.append(Finding(
            "warning", path, logical.line, text,
            f"alias name {name!r} is not ASCII: no address is written for it (SMTP"
            " clients could only reach it with raw 8-bit bytes) and the address check"
            " skips it; lists naming it still reach its members",
            "rename the alias to an ASCII name if mail to it is still expected",
            code="SM028", subject=name))
    items = split_addresses(rest)
    if items is None:
        findings.append(Finding(
            "warning", path, logical.line, text, "unbalanced quote in alias value",
            "check the value by hand", code="SM027", subject=name))
        items = [i for i in rest.replace('"', "").split(",") if i.strip()]
    targets = tuple(classify(item) for item in items)
    if not targets:
        findings.append(Finding(
            "error", path, logical.line, text, "alias with an empty value",
            "give it a value or delete it", code="SM026", subject=name))
        return None
    return Alias(name, targets, path, logical.line, text)


def _split_name(text: str) -> tuple[str, str | None]:
    """The folded name and the text after the colon (None when there is no colon)."""
    stripped = text.strip()
    if stripped.startswith('"'):
        end = stripped.find('"', 1)
        if end < 0:
            return "", None
        name = stripped[1:end]
        after = stripped[end + 1:].lstrip()
        if not after.startswith(":"):
            return name.lower(), None
        return name.lower(), after[1:]
    if ":" not in stripped:
        return stripped.lower(), None
    name, rest = stripped.split(":", 1)
    return name.strip().lower(), rest


def split_addresses(value: str) -> list[str] | None:
    """Split at commas outside quotes, <> and (); None for an unterminated quote."""
    items: list[str] = []
    buf: list[str] = []
    quoted = False
    depth_angle = depth_paren = 0
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth_angle += 1
        elif not quoted and ch == ">":
            depth_angle = max(0, depth_angle - 1)
        elif not quoted and ch == "(":
            depth_paren += 1
        elif not quoted and ch == ")":
            depth_paren = max(0, depth_paren - 1)
        elif ch == "," and not quoted and not depth_angle and not depth_paren:
            items.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if quoted:
        return None
    items.append("".join(buf))
    return [i.strip() for i in items if i.strip()]


def _strip_comments(item: str) -> str:
    """Drop RFC 822 (comments) outside quotes and take the <address> of 'Name <address>'."""
    out: list[str] = []
    depth = 0
    quoted = False
    for ch in item:
        if ch == '"' and not depth:
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
            continue
        elif not quoted and ch == ")" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    text = "".join(out).strip()
    if not quoted and "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1:-1].strip()
    return text


def classify(item: str) -> AliasTarget:
    """Classify one address item of an alias or :include: file."""
    raw = item.strip()
    if raw.startswith("#"):
        return AliasTarget("comment", raw)
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        inner = raw[1:-1]
        if inner.startswith("|"):
            return AliasTarget("program", inner[1:].strip())
        if inner.startswith("/"):
            return AliasTarget("file", inner)
        return AliasTarget("local", inner.lower())
    text = _strip_comments(raw)
    low = text.lower()
    if text.startswith("|"):
        return AliasTarget("program", text[1:].strip())
    if text.startswith("/"):
        return AliasTarget("file", text)
    if low.startswith(":include:"):
        return AliasTarget("include", text[len(":include:"):].strip())
    if low.startswith("error:"):
        return AliasTarget("error", text[len("error:"):].strip())
    if text.startswith("\\"):
        return AliasTarget("local", text[1:].lower(), verbatim=True)
    if "@" in text:
        local, domain = text.rsplit("@", 1)
        return AliasTarget("address", f"{local}@{domain.lower().rstrip('.')}")
    return AliasTarget("local", text.lower())
