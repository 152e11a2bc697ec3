"""Talking IMAP to Cyrus: logins as a user, folder creation, fast batched APPEND.

Why not just ``IMAPClient.append``: one APPEND per message costs two round
trips, and imaplib writes the literal and its closing CRLF separately, so on
loopback most of the time is spent waiting for delayed ACKs.  Here a whole
MULTIAPPEND batch (LITERAL+ non-synchronising literals) is built in memory
and written with one ``sendall`` on a TCP_NODELAY socket.  Pipelining a
second batch on the same connection was measured and gains nothing (Cyrus
parses a literal while it arrives, so sending already overlaps its work; see
bench/RESULTS.md): the copy engine uses more connections instead, and does
its own bookkeeping between sending a batch and reading the answer
(``start_append``).  Only servers without MULTIAPPEND or LITERAL+ take the
slow, standard path: one APPEND per message with a synchronising literal
(imaplib waits for the ``+`` before the bytes).
"""

from __future__ import annotations

import imaplib
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.imap_utf7 import encode as utf7_encode

from migrate.config import CyrusConfig

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.I)
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
_FETCH_UID = re.compile(rb"\bUID (\d+)", re.I)
_FETCH_DIGEST = re.compile(rb"\bDIGEST\.SHA1 \"?([0-9A-Fa-f]{40})", re.I)


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
    try:
        client = IMAPClient(cfg.host, port=cfg.imap_port, ssl=cfg.ssl, timeout=timeout)
    except OSError as exc:  # name the server: "Connection refused" alone says nothing
        raise ConnectionError(f"Cyrus IMAP at {cfg.host}:{cfg.imap_port}: "
                              f"{exc.strerror or exc}") from exc
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
    return start_append(client, folder, batch)()


def start_append(
    client: IMAPClient, folder: str, batch: Sequence[Outgoing]
) -> Callable[[], tuple[int | None, list[int]]]:
    """Send ``batch`` now if the server takes it in one command; the returned call
    waits for the answer and gives what ``append_batch`` gives.

    The caller may do its own work (write the previous batch's ledger rows)
    between the two, while Cyrus stores this batch.  Servers without
    MULTIAPPEND get nothing until the call, which then appends one by one.
    """
    if multiappend(client):
        tag = _send_multiappend(client, folder, batch)
        return lambda: _multiappend_done(client, tag)
    return lambda: _append_each(client, folder, batch)


def _append_each(
    client: IMAPClient, folder: str, batch: Sequence[Outgoing]
) -> tuple[int | None, list[int]]:
    """The standard path: one APPEND per message, synchronising literals."""
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


def append_limit(client: IMAPClient) -> int | None:
    """The server-wide ``APPENDLIMIT=N`` (RFC 7889; Cyrus's ``maxmessagesize``), if any.

    A message above it is refused after its every byte was sent, and sinks the
    whole MULTIAPPEND batch it is in: such messages are kept out of batches.
    """
    for cap in client.capabilities():
        if cap.upper().startswith(b"APPENDLIMIT="):
            value = cap.split(b"=", 1)[1]
            return int(value) if value.isdigit() else None
    return None


def _send_multiappend(client: IMAPClient, folder: str, batch: Sequence[Outgoing]) -> bytes:
    """Write one MULTIAPPEND command, all literals non-synchronising, in one send."""
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
    return tag


def _multiappend_done(client: IMAPClient, tag: bytes) -> tuple[int | None, list[int]]:
    """Wait for the answer to the MULTIAPPEND sent with ``tag``."""
    imap = client._imap
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


def sequence_set(uids: Iterable[int]) -> str:
    """UIDs as a compact IMAP sequence set (``1:200,205``): short commands for long runs."""
    out: list[str] = []
    run: list[int] = []
    for uid in sorted(set(uids)):
        if run and uid == run[-1] + 1:
            run[-1] = uid
            continue
        if run:
            out.append(f"{run[0]}:{run[1]}" if run[0] != run[1] else str(run[0]))
        run = [uid, uid]
    if run:
        out.append(f"{run[0]}:{run[1]}" if run[0] != run[1] else str(run[0]))
    return ",".join(out)


def digests(client: IMAPClient, uids: str | Iterable[int]) -> dict[int, str]:
    """UID -> DIGEST.SHA1 (lower-case hex) of messages of the selected folder.

    ``uids`` is a sequence set string (such as ``"1:*"``) or UIDs.  Cyrus
    answers from its index (the message GUID is the SHA-1 of the stored
    bytes), so nothing is downloaded.  The answer is read here, a line and a
    regex per message: through imaplib and IMAPClient's parser it costs a
    second of CPU per 20,000 messages, taken from Cyrus on a small machine.
    Other untagged data in between (EXISTS, FLAGS) is skipped.
    """
    spec = uids if isinstance(uids, str) else sequence_set(uids)
    if not spec:
        return {}
    imap = client._imap
    tag = imap._new_tag()
    imap.send(tag + b" UID FETCH " + spec.encode("ascii") + b" (UID DIGEST.SHA1)\r\n")
    out: dict[int, str] = {}
    while True:
        line = _response_line(imap)
        if line.startswith(tag + b" "):
            if not line[len(tag) + 1:].upper().startswith(b"OK"):
                raise IMAPClientError(f"UID FETCH DIGEST.SHA1 failed: {line!r}")
            return out
        if line.startswith(b"* BYE"):
            raise imap.abort(line.decode("utf-8", "replace"))
        uid = _FETCH_UID.search(line)
        digest = _FETCH_DIGEST.search(line)
        if line.startswith(b"* ") and uid and digest:
            out[int(uid.group(1))] = digest.group(1).decode("ascii").lower()


def _response_line(imap: imaplib.IMAP4) -> bytes:
    """One server response line with its literals inlined, without the final CRLF.

    Each read asks the kernel to acknowledge at once (Linux TCP_QUICKACK): Cyrus
    writes a long answer in 4 KiB pieces and holds the last one back until the
    previous is acknowledged (Nagle), while Linux delays that acknowledgement
    by 40 ms.  Measured on a 300-message FETCH: 45 ms without, 2 ms with.
    """
    parts = []
    while True:
        if _QUICKACK is not None:
            imap.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        line = imap.readline()
        if not line:
            raise imap.abort("the server closed the connection")
        parts.append(line)
        literal = _LITERAL.search(line)
        if not literal:
            return b"".join(parts).rstrip(b"\r\n")
        parts.append(imap.read(int(literal.group(1))))


def missing_folder(exc: IMAPClientError) -> bool:
    """Whether a NO says the folder does not exist (Cyrus: "Mailbox does not exist")."""
    text = str(exc).lower()
    return "does not exist" in text or "[nonexistent]" in text


def already_exists(exc: IMAPClientError) -> bool:
    """Whether a NO to CREATE says the folder is there already."""
    text = str(exc).lower()
    return "already exists" in text or "[alreadyexists]" in text


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
            if not already_exists(exc):
                raise
            created = False
            continue
        subscribe(client, name)
        created = True
    return created


#: Cyrus answers SUBSCRIBE with this while another connection of the same user is
#: writing the user's subscription database (seen with several copy connections of
#: one user); it is a lock, not a lost folder, and goes away.
_SUB_BUSY = "System I/O error"


def subscribe(client: IMAPClient, folder: str, attempts: int = 6) -> None:
    """SUBSCRIBE, tried again a few times while the subscription database is busy."""
    for n in range(attempts):
        try:
            client.subscribe_folder(folder)
            return
        except IMAPClientError as exc:
            if _SUB_BUSY not in str(exc) or n == attempts - 1:
                raise
            time.sleep(0.05 * 2 ** n)
