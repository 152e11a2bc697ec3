"""Compare where procmail and Cyrus put the same messages under the same rules.

For one rc file and a batch of messages: procmail runs the rc file (the
oracle), Cyrus runs its translation (the Cyrus engine), and both outcomes
are reduced to what the user would see: the set of IMAP folders holding the
message (procmail's files named through the same folder mapping the copy
engine uses; its $DEFAULT is INBOX), the addresses it was forwarded to, the
addresses that got an automatic reply, whether a program saw it, and
whether delivery failed.  A message delivered nowhere is a discard.

A pair counts for agreement only when the translation is complete: every
recipe of the file translated and the script valid.  Pairs on other files
are "not comparable" and are counted, not judged.

Sieve compares header text unfolded, decoded and without the blanks around
the value (RFC 5228 2.7.2), and Cyrus searches a single-part body with its
quoted-printable or base64 undone; procmail reads the raw bytes.  The
translation is held to what procmail does with the text as Sieve reads it,
which for a message whose fields are plain ``Name: value`` lines without
encoded words or a transfer encoding is the message itself.  For other
messages procmail's answer on the raw bytes is kept beside it, so a run shows
how often that reading changed procmail's own answer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from converters.folders import DEFAULT_MAPPING, INBOX, spool_side_name
from converters.procmail import SieveConversion
from migrate.inventory import folder_dir

from .cases import USER, RcCase
from .cyrus_engine import Sandbox, retrying, run_cyrus
from .messages import Delivery, Message, deliveries
from .procmail_oracle import Outcome, run_procmail


@dataclass(frozen=True)
class Seen:
    """An outcome as the user sees it; equal Seen values mean the engines agree."""

    folders: tuple[str, ...]
    forwards: tuple[str, ...]
    autoreplies: tuple[str, ...]
    programs: tuple[str, ...]
    failed: bool

    def __str__(self) -> str:
        if not (self.folders or self.forwards or self.autoreplies or self.programs
                or self.failed):
            return "discarded"
        parts = [f"folders={list(self.folders)}"]
        parts += [f"{k}={list(v)}" for k, v in (("forwards", self.forwards),
                                                 ("autoreplies", self.autoreplies),
                                                 ("programs", self.programs)) if v]
        return " ".join(parts + (["FAILED"] if self.failed else []))


@dataclass(frozen=True)
class Pair:
    """One (rc file, message) verdict."""

    rcfile: str
    message: str
    comparable: bool
    procmail: Seen
    cyrus: Seen | None
    #: procmail's answer on the raw bytes, for a message that Sieve reads otherwise
    #: (``procmail`` is its answer on the text as Sieve reads it).
    procmail_raw: Seen | None = None

    @property
    def reading_mattered(self) -> bool:
        """procmail itself answered differently on the raw bytes and on the reading."""
        return self.procmail_raw is not None and self.procmail_raw != self.procmail

    @property
    def agree(self) -> bool:
        return self.procmail == self.cyrus

    def __str__(self) -> str:
        return (f"{self.rcfile} x {self.message}:\n    procmail: {self.procmail}\n"
                f"    cyrus:    {self.cyrus}")


@dataclass(frozen=True)
class FileResult:
    """Everything one rc file gave: its translation and its pairs."""

    case: RcCase
    conversion: SieveConversion
    pairs: tuple[Pair, ...]


def fully_translated(conv: SieveConversion) -> bool:
    """Every recipe carried over and the script valid: the file's pairs are judged."""
    return (conv.recipes_translated == conv.recipes_total
            and not any(f.code == "sieve-invalid" for f in conv.findings))


def _addresses(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(a.lower() for _, a in getaddresses(list(values)) if a))


def _imap_name(rel: str, home: Path, maildir: Path | None) -> str:
    """procmail's file (relative to HOME, or beside the spool) as the IMAP folder the
    copy engine makes of it; a file in the spool directory that is no folder of the
    user's keeps its path, so it can only disagree."""
    if rel.startswith("/var/mail/"):
        name = spool_side_name(USER, rel.rstrip("/").removesuffix("/."))
        return rel if name is None else DEFAULT_MAPPING.folder(name)
    path = home / rel.rstrip("/").removesuffix("/.")
    base = maildir if maildir is not None and maildir in path.parents else home
    return DEFAULT_MAPPING.folder(path.relative_to(base).as_posix())


def seen_procmail(out: Outcome, home: Path, maildir: Path | None) -> Seen:
    folders = {_imap_name(f, home, maildir) for f in out.folders}
    if out.inbox:
        folders.add(INBOX)
    return Seen(tuple(sorted(folders)), _addresses(out.forwards), _addresses(out.autoreplies),
                tuple(out.programs), out.exit_code != 0)


def seen_cyrus(out: Outcome) -> Seen:
    folders = set(out.folders) | ({INBOX} if out.inbox else set())
    return Seen(tuple(sorted(folders)), _addresses(out.forwards), _addresses(out.autoreplies),
                (), out.exit_code != 0)


def run_oracle(case: RcCase, batch: Sequence[Delivery], workers: int = 8,
               *, as_read: bool = True) -> list[Seen]:
    """procmail's outcome for each delivery, run ``workers`` at a time.

    With ``as_read`` procmail reads each header field as Sieve compares it
    (unfolded, decoded, blanks around the value removed); a plainly written
    message is the same bytes either way.
    """
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        home = case.make_home(Path(tmp))
        maildir = folder_dir(home)

        def one(d: Delivery) -> Seen:
            data = d.read_mbox_bytes if as_read else d.mbox_bytes
            out = run_procmail(case.text, data, dirs=case.dirs, files=dict(case.files),
                               marker=f"Message-ID: <{d.msgid}>".encode())
            return seen_procmail(out, home, maildir)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, batch))


def compare_file(case: RcCase, batch: Sequence[Message], token: str,
                 sb: Sandbox | None = None, *, judge_all: bool = False) -> FileResult:
    """Run one rc file on ``batch`` in both engines (only procmail's side when not comparable).

    ``judge_all`` runs Cyrus on files that are not fully translated too.
    """
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        conversion = case.convert(Path(tmp))
    comparable = fully_translated(conversion)
    items = deliveries(token, list(batch))
    if not comparable and not judge_all:
        return FileResult(case, conversion, tuple(
            Pair(case.name, d.message.name, False, Seen((), (), (), (), False), None)
            for d in items))
    # A restarted Cyrus means a new run with new Message-IDs, so nothing the lost run
    # left in the outbox is taken for this one's.
    attempt = iter(range(1_000))
    cyrus = retrying(lambda: run_cyrus(
        case, deliveries(f"{token}r{next(attempt)}", list(batch)), sb))
    oracle = run_oracle(case, items)
    reread = [d for d in items if d.read_mbox_bytes != d.mbox_bytes]
    raw = dict(zip((d.msgid for d in reread), run_oracle(case, reread, as_read=False),
                   strict=True))
    pairs = tuple(Pair(case.name, d.message.name, comparable, p, seen_cyrus(c), raw.get(d.msgid))
                  for d, p, c in zip(items, oracle, cyrus.outcomes, strict=True))
    return FileResult(case, conversion, pairs)
