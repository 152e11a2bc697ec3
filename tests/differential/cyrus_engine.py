"""Run a translated procmailrc in the real Cyrus and say where each message went.

The Cyrus half of the procmail -> Sieve differential: for one rc file it
translates the file (the same home tree the procmail oracle uses), creates a
scratch Cyrus user, creates the folders the script names, uploads and
activates the script over ManageSieve, delivers every message by LMTP, and
then looks for each message: in every folder (by its Message-ID, which the
run makes unique per delivery) and in the sandbox's outbox recorder
(redirects and vacation replies).  One user serves all the messages of one
rc file; it is deleted afterwards.  Results use the oracle's
:class:`Outcome`, with IMAP folder names in ``folders``.
"""

from __future__ import annotations

import imaplib
import json
import os
import re
import secrets
import smtplib
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError
from sievelib.managesieve import Client

from converters.procmail import SieveConversion
from migrate.config import CyrusConfig
from migrate.imap import connect, ensure_folder

from .cases import RcCase
from .messages import Delivery
from .procmail_oracle import Outcome

SANDBOX = Path(os.environ.get("MAILMIGRATE_SANDBOX") or "/var/tmp/mailmigrate-sandbox")
SCRIPT = "differential"
DOMAIN = "example.org"
_MSGID = re.compile(rb"<(dfm[0-9a-z]+\.\d+@differential\.invalid)>")
T = TypeVar("T")
#: A run that meets a restarting Cyrus (the sandbox is shared) starts again this often.
ATTEMPTS = 6
RETRY_PAUSE = 10.0


class Unavailable(Exception):
    """Cyrus went away (or said "try later") during a run: the run is started again."""


#: What a Cyrus restart looks like from here.
_GONE = (ConnectionError, TimeoutError, smtplib.SMTPServerDisconnected, imaplib.IMAP4.abort,
         IMAPClientAbortError, Unavailable)


@dataclass(frozen=True)
class Sandbox:
    """Where the sandbox's Cyrus listens, read from its servers.toml."""

    cyrus: CyrusConfig
    lmtp: tuple[str, int]
    outbox: Path

    @classmethod
    def load(cls, directory: Path = SANDBOX) -> Sandbox:
        conf = tomllib.loads((directory / "servers.toml").read_text())["cyrus"]
        cyrus = CyrusConfig(**conf)
        _, host, port = cyrus.lmtp_transport.rsplit(":", 2)
        return cls(cyrus, (host, int(port)), Path(conf["outbox"]))


@dataclass(frozen=True)
class CyrusRun:
    """The script as translated and the outcome of each message in Cyrus."""

    conversion: SieveConversion
    outcomes: tuple[Outcome, ...]


@contextmanager
def scratch_user(sb: Sandbox) -> Iterator[str]:
    """A fresh ``user/NAME`` for one rc file, deleted (with its folders) afterwards."""
    name = "dfm" + secrets.token_hex(5)
    admin = connect(sb.cyrus, timeout=60)
    admin.create_folder(f"user/{name}")
    admin.logout()
    try:
        yield name
    finally:
        retrying(lambda: _delete_user(sb, name))


def _delete_user(sb: Sandbox, name: str) -> None:
    admin = connect(sb.cyrus, timeout=60)
    try:
        if admin.folder_exists(f"user/{name}"):
            admin.setacl(f"user/{name}", sb.cyrus.admin, "lrswipkxtecda")
            admin.delete_folder(f"user/{name}")
    finally:
        admin.logout()


def retrying(step: Callable[[], T]) -> T:
    """Run ``step``; when Cyrus restarts under it, wait and run it again (ATTEMPTS in all)."""
    for attempt in range(ATTEMPTS):
        try:
            return step()
        except _GONE:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(RETRY_PAUSE)
    raise AssertionError("unreachable")


def sieve_client(sb: Sandbox, user: str) -> Client:
    """A ManageSieve session as the admin acting as ``user``."""
    ms = Client(sb.cyrus.host, sb.cyrus.sieve_port)
    with warnings.catch_warnings():
        # The sandbox listens on loopback only: plain text exposes nothing there.
        warnings.filterwarnings("ignore", "Credentials are sent over an unencrypted")
        ok = ms.connect(sb.cyrus.admin, sb.cyrus.password(), authz_id=user,
                        authmech="PLAIN")
    if not ok:
        raise Unavailable(f"ManageSieve login as {user} failed: {ms.errmsg!r}")
    return ms


def deliver(sb: Sandbox, user: str, items: Sequence[tuple[str, bytes]]) -> list[str]:
    """LMTP each (envelope sender, message) to ``user`` on one connection; return refusals."""
    refused = []
    with smtplib.LMTP(*sb.lmtp, timeout=120) as lmtp:
        for sender, data in items:
            crlf = re.sub(rb"\r?\n", b"\r\n", data)
            try:
                lmtp.sendmail(sender, [f"{user}@{DOMAIN}"], crlf)
            except smtplib.SMTPServerDisconnected:
                raise
            except smtplib.SMTPException as exc:
                if getattr(exc, "smtp_code", 0) // 100 == 4 or any(
                        code // 100 == 4 for code, _ in getattr(exc, "recipients", {}).values()):
                    raise Unavailable(str(exc)) from exc
                refused.append(str(exc))
                lmtp.rset()
            else:
                refused.append("")
    return refused


def _folders(sb: Sandbox, user: str) -> dict[str, list[str]]:
    """Message-ID -> the folders holding it, over every folder of the user."""
    where: dict[str, list[str]] = {}
    client: IMAPClient = connect(sb.cyrus, user, timeout=120)
    try:
        for _, _, name in client.list_folders():
            info = client.select_folder(name, readonly=True)
            if not info.get(b"EXISTS"):
                continue
            key = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
            uids = client.search("ALL")
            for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
                m = _MSGID.search(data.get(key, b""))
                if m:
                    where.setdefault(m.group(1).decode(), []).append(name)
    finally:
        client.logout()
    return where


def _outbox(sb: Sandbox, seen: set[str], ids: set[str]) -> dict[str, tuple[list, list]]:
    """Message-ID -> (redirect recipients, vacation recipients) recorded since ``seen``."""
    out: dict[str, tuple[list, list]] = {}
    for f in sorted(sb.outbox.iterdir()):
        if f.name in seen or f.name.startswith("."):
            continue  # a dot file is one the recorder is still writing (another user's)
        first, _, msg = f.read_bytes().partition(b"\n")
        head = msg.split(b"\n\n", 1)[0].replace(b"\r", b"")
        m = _MSGID.search(head)
        if not m or m.group(1).decode() not in ids:
            continue
        env = json.loads(first)
        # A redirect carries the message itself; a vacation reply names it in In-Reply-To.
        # (Read with a regex: a field such as 'Subject : x' ends the header for the
        # email package, which then finds no Message-ID in a redirect.)
        auto = not re.search(rb"(?im)^message-id:[ \t]*<" + re.escape(m.group(1)) + rb">", head)
        forwards, replies = out.setdefault(m.group(1).decode(), ([], []))
        (replies if auto else forwards).extend(env.get("rcpt_to", []))
    return out


def run_cyrus(case: RcCase, batch: Sequence[Delivery], sb: Sandbox | None = None) -> CyrusRun:
    """Translate ``case``, run the script in Cyrus on every delivery, report each outcome."""
    sb = sb or Sandbox.load()
    with tempfile.TemporaryDirectory(prefix="cyrus-engine-") as tmp:
        conversion = case.convert(Path(tmp))
    with scratch_user(sb) as user:
        if conversion.folders:
            client = connect(sb.cyrus, user, timeout=60)
            try:
                for folder in conversion.folders:
                    ensure_folder(client, folder)
            finally:
                client.logout()
        ms = sieve_client(sb, user)
        try:
            if not (ms.putscript(SCRIPT, conversion.sieve) and ms.setactive(SCRIPT)):
                raise RuntimeError(f"Cyrus refused the script of {case.name}: {ms.errmsg!r}")
        finally:
            ms.logout()
        seen = set(os.listdir(sb.outbox))
        refused = deliver(sb, user, [(d.message.sender, d.data) for d in batch])
        where = _folders(sb, user)
        sent = _outbox(sb, seen, {d.msgid for d in batch})
    outcomes = []
    for i, d in enumerate(batch):
        mid = d.msgid
        folders = where.get(mid, [])
        forwards, replies = sent.get(mid, ([], []))
        outcomes.append(Outcome(
            inbox="INBOX" in folders,
            folders=tuple(sorted(f for f in folders if f != "INBOX")),
            forwards=tuple(sorted(forwards)),
            autoreplies=tuple(sorted(replies)),
            programs=(),
            exit_code=1 if refused[i] else 0,
            log=refused[i],
        ))
    return CyrusRun(conversion, tuple(outcomes))


def check_scripts(scripts: Sequence[str], sb: Sandbox | None = None) -> list[str | None]:
    """Cyrus' ManageSieve CHECKSCRIPT verdicts: None when accepted, else the error text."""
    box = sb or Sandbox.load()

    def check() -> list[str | None]:
        with scratch_user(box) as user:
            ms = sieve_client(box, user)
            try:
                return [None if ms.checkscript(text) else str(ms.errmsg) for text in scripts]
            finally:
                ms.logout()

    return retrying(check)
