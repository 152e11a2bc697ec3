"""~/.forward entries -> what they mean for the user's Sieve script.

sendmail reads ``~/.forward`` before local delivery: plain addresses are
forwarded, ``\\user`` delivers to the user's own spool (with
FEATURE(local_procmail), through procmail), ``|procmail`` runs the user's
rc file, ``|vacation user`` sends ``~/.vacation.msg``.  If the file names
no local delivery, the message is not kept at all.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from converters.finding import InputError

from .parser import decode
from .syntax import Assignment, Pos


@dataclass
class ForwardEntry:
    """One comma- or line-separated entry of a .forward file."""

    kind: str  # address, self, procmail, vacation, pipe, file, include
    value: str
    pos: Pos
    rcfile: str | None = None
    #: ``VAR=value`` arguments of a procmail command line, set before the rc file runs.
    assignments: tuple[Assignment, ...] = ()


@dataclass
class ForwardFile:
    """The parsed .forward."""

    entries: list[ForwardEntry] = field(default_factory=list)

    @property
    def keeps(self) -> bool:
        """True when mail is also delivered locally (``\\user`` or procmail)."""
        return any(e.kind in ("self", "procmail") for e in self.entries)


def _split_entries(line: str) -> list[str]:
    """Split on commas outside double quotes."""
    out, cur, quoted = [], "", False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [e.strip() for e in out if e.strip()]


def parse_forward(data: bytes, label: str, user: str,
                  addresses: tuple[str, ...] = ()) -> ForwardFile:
    """Parse a .forward file; every entry gets a kind, odd ones are reported later.

    ``addresses`` are the user's own mail addresses: sendmail resolves such an
    entry back to this user and, seeing the self-reference, delivers locally
    instead of forwarding (a redirect there would loop in the new system).
    """
    if b"\0" in data:  # sendmail reads no addresses out of binary junk; neither do we
        raise InputError(label, None, "binary data (NUL bytes): not a .forward file")
    fwd = ForwardFile()
    own = {a.lower() for a in addresses}
    for n, line in enumerate(decode(data).replace("\r\n", "\n").split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        column = 0
        for raw in _split_entries(line):
            found = line.find(raw, column)
            pos = Pos(label, n, found + 1)
            column = found + len(raw)
            entry = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
            fwd.entries.append(_classify(entry, pos, user, own))
    return fwd


def _procmail_args(args: list[str], pos: Pos) -> tuple[str | None, tuple[Assignment, ...]]:
    """The rc file a procmail command line names (None: ~/.procmailrc) and its
    ``VAR=value`` arguments, which procmail sets before it reads the rc file.

    ``-a ARG``, ``-f FROM`` and ``-d RECIPIENT...`` take arguments, which are
    not the rc file; with ``-d`` procmail reads the default rc file.
    """
    skip = False
    rcfile: str | None = None
    assignments: list[Assignment] = []
    for w in args:
        if skip:
            skip = False
        elif w in ("-a", "-f"):
            skip = True
        elif w == "-d":
            break
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
            name, _, value = w.partition("=")
            assignments.append(Assignment(name, value, "value", pos, w))
        elif not w.startswith("-") and rcfile is None:
            rcfile = w
    return rcfile, tuple(assignments)


def _shell_words(cmd: str) -> list[str]:
    """The words sh would see; a line sh could not read (an open quote) split on blanks."""
    try:
        return shlex.split(cmd, posix=True)
    except ValueError:
        return cmd.split()


def _classify(entry: str, pos: Pos, user: str, own: set[str]) -> ForwardEntry:
    if entry.startswith("\\"):
        name = entry[1:]
        if name != user:
            return ForwardEntry("address", name, pos)
        return ForwardEntry("self", name, pos)
    if entry.startswith("|"):
        cmd = entry[1:].strip().strip('"')
        if re.search(r"(^|[/\s])procmail(\s|$|\")", cmd):
            words = _shell_words(cmd.split("||")[0].split("#")[0])
            after = words[words.index(next(w for w in words if w.endswith("procmail"))) + 1:] \
                if any(w.endswith("procmail") for w in words) else []
            return ForwardEntry("procmail", cmd, pos, *_procmail_args(after, pos))
        if re.search(r"(^|[/\s])vacation(\s|$)", cmd):
            return ForwardEntry("vacation", cmd, pos)
        return ForwardEntry("pipe", cmd, pos)
    if entry.startswith("/"):
        return ForwardEntry("file", entry, pos)
    if entry.startswith(":include:"):
        return ForwardEntry("include", entry, pos)
    bare = entry[1:-1] if entry.startswith("<") and entry.endswith(">") else entry
    if bare == user or bare.lower() in own:
        # sendmail delivers the user's own name or address locally instead of looping
        return ForwardEntry("self", bare, pos)
    return ForwardEntry("address", entry, pos)
