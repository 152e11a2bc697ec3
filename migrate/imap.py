"""Talking IMAP to Cyrus: logins as a user, folder creation, fast batched APPEND.

Why not just ``IMAPClient.append``: one APPEND per message costs two round
trips, and imaplib writes the literal and its closing CRLF separately, so on
loopback most of the time is spent waiting for delayed ACKs.  Here a whole
MULTIAPPEND batch (LITERAL+ non-synchronising literals) is built in memory
and written with one ``sendall`` on a TCP_NODELAY socket.  Pipelining a
second batch on the same connection was measured and gains nothing (Cyrus
parses a literal while it arrives, so sending already overlaps its work; see
bench/RESULTS.md): the copy engine uses more connections instead.  Only
servers without MULTIAPPEND or LITERAL+ take the slow, standard path: one
APPEND per message with a synchronising literal (imaplib waits for the ``+``
before the bytes).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.imap_utf7 import encode as utf7_encode

from migrate.config import CyrusConfig

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.I)


class AppendRefused(Exception):
    """The server said NO/BAD to an APPEND; the batch stored nothing."""


@dataclass(frozen=True)
class Outgoing:
    """One message ready to append: bytes (CRLF), flags and INTERNALDATE."""

    data: bytes
    flags: tuple[str, ...]
    date: datetime


def connect(cfg: CyrusConfig, user: str | None = None, timeout: float = 300) -> IMAPClient:
    """Log in as the admin, acting as ``user`` when given (SASL PLAIN authzid).

    Acting as the user matters: in Cyrus \\Seen and subscriptions belong to
    the authenticated user, so an admin login would mark mail seen for the
    admin and leave the user with everything unread.
    """
    client = IMAPClient(cfg.host, port=cfg.imap_port, ssl=cfg.ssl, timeout=timeout)
    sock = client.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if cfg.starttls and not cfg.ssl:
        client.starttls()
    client.plain_login(cfg.admin, cfg.password(), authorization_identity=user)
    return client


def uid_set(text: bytes) -> list[int]:
    """Expand an IMAP sequence set such as ``5:7,9`` into UIDs."""
    out: list[int] = []
    for part in text.split(b","):
        if b":" in part:
            lo, hi = (int(x) for x in part.split(b":"))
            out.extend(range(min(lo, hi), max(lo, hi) + 1))
        else:
            out.append(int(part))
    return out


def _quote(folder: str) -> bytes:
    encoded = utf7_encode(folder)
    return b'"' + encoded.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _internaldate(when: datetime) -> bytes:
    return when.strftime("%d-%b-%Y %H:%M:%S %z").encode("ascii")


def append_batch(
    client: IMAPClient, folder: str, batch: Sequence[Outgoing]
) -> tuple[int | None, list[int]]:
    """Append ``batch`` atomically; return (UIDVALIDITY, UIDs) from APPENDUID.

    With MULTIAPPEND a batch is all-or-nothing on the server, so a refusal
    (AppendRefused) means nothing of it was stored and the caller may split
    it.  Without MULTIAPPEND messages go one by one and a refusal reports
    how many went in before it via the exception's ``stored`` attribute.
    """
    if multiappend(client):
        return _multiappend(client, folder, batch)
    uidvalidity: int | None = None
    uids: list[int] = []
    for item in batch:
        try:
            resp = client.append(folder, item.data, item.flags, item.date)
        except IMAPClientError as exc:
            err = AppendRefused(str(exc))
            err.stored = (uidvalidity, uids)  # type: ignore[attr-defined]
            raise err from exc
        match = _APPENDUID.search(resp if isinstance(resp, bytes) else resp.encode())
        if match:
            uidvalidity = int(match.group(1))
            uids.extend(uid_set(match.group(2)))
    return uidvalidity, uids


def multiappend(client: IMAPClient) -> bool:
    """Whether the server takes a whole batch in one APPEND with non-synchronising literals."""
    caps = client.capabilities()
    return b"MULTIAPPEND" in caps and b"LITERAL+" in caps


def _multiappend(
    client: IMAPClient, folder: str, batch: Sequence[Outgoing]
) -> tuple[int | None, list[int]]:
    """One MULTIAPPEND command, all literals non-synchronising, written in one send."""
    imap = client._imap  # imaplib connection: used for its tag and response reader
    tag = imap._new_tag()
    parts = [tag, b" APPEND ", _quote(folder)]
    for item in batch:
        parts.append(b" (" + " ".join(item.flags).encode("ascii") + b") ")
        parts.append(b'"' + _internaldate(item.date) + b'"')
        parts.append(b" {%d+}\r\n" % len(item.data))
        parts.append(item.data)
    parts.append(b"\r\n")
    imap.send(b"".join(parts))
    try:
        typ, data = imap._command_complete("APPEND", tag)
    except imap.abort:
        raise  # the connection is gone: not a refusal of this batch
    except imap.error as exc:
        raise AppendRefused(str(exc)) from exc
    finally:
        imap.untagged_responses.pop("APPENDUID", None)  # else kept for the session's life
    text = b" ".join(d for d in data if isinstance(d, bytes))
    if typ != "OK":
        raise AppendRefused(text.decode("utf-8", "replace"))
    match = _APPENDUID.search(text)
    if not match:
        return None, []
    return int(match.group(1)), uid_set(match.group(2))


def ensure_folder(client: IMAPClient, folder: str) -> bool:
    """Create and subscribe ``folder`` (and its parents) if missing; True if created.

    One CREATE per level, top down, and "already exists" for the levels that
    are there: half the round trips of LIST-then-CREATE, and no race with
    another connection of the same user creating the same parent (folders of
    one user are copied in parallel).
    """
    parts = folder.split("/")
    created = False
    for i in range(1, len(parts) + 1):
        name = "/".join(parts[:i])
        if name.upper() == "INBOX":
            continue
        try:
            client.create_folder(name)
        except IMAPClientError as exc:
            text = str(exc).lower()
            if "already exists" not in text and "[alreadyexists]" not in text:
                raise
            created = False
            continue
        client.subscribe_folder(name)
        created = True
    return created
