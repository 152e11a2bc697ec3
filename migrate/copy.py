"""``mailmigrate copy``: mbox spools and folders into Cyrus, exactly once.

Each source message is identified by (mailbox, byte offset) and its SHA-1;
the tracker records the UIDVALIDITY/UID that APPENDUID returned for it.  A
re-run (or a delta pass after new mail reached the old spool) copies only
messages the ledger does not know.  If a run died after Cyrus committed a
batch but before the ledger recorded it, the next run finds those messages on
the server by ``FETCH DIGEST.SHA1`` above the last recorded UID and records
them instead of appending them a second time.

What can go wrong, and what happens:

* the old mbox was rewritten (messages deleted in the old mail client): the
  ledger's offsets no longer hold, so the mailbox is not touched and a
  finding says so; ``resync`` rebuilds its ledger from the file as it is now,
  matching every message already in the folder by digest, and appends only
  the rest (nothing is ever deleted from Cyrus);
* Cyrus refuses a batch: MULTIAPPEND is all or nothing, so the batch is split
  until the refused message is alone and reported, and the rest go in;
  refusals that concern the folder rather than a message (no right to
  insert, folder gone, quota full) stop the folder with one finding;
* the connection is lost: reconnect and run the folder's pass again, which
  first reconciles whatever the lost batch left on the server.
"""

from __future__ import annotations

import imaplib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from converters.finding import Finding
from converters.mbox import MboxMessage, folder_keywords, folder_size, read_folder
from migrate.config import Config
from migrate.errors import UnknownDomain
from migrate.imap import (
    AppendRefused,
    Outgoing,
    already_exists,
    append_limit,
    connect,
    digests,
    ensure_folder,
    start_append,
    subscribe,
)
from migrate.prefetch import Prefetch
from migrate.sitefs import on_disk
from migrate.source_check import file_stamp, source_change
from migrate.subscriptions import subscribe_listed
from migrate.tracker import Domain, Mailbox, Message, User, open_tracker
from migrate.tracker.findings import record_finding


@dataclass
class MailboxResult:
    """What one pass did to one mailbox."""

    user: str
    source: str
    folder: str
    source_messages: int = 0
    appended: int = 0
    reconciled: int = 0
    already: int = 0
    failed: int = 0
    altered: int = 0        # stored, but Cyrus's digest is not that of the bytes sent
    retries: int = 0        # reconnections after a lost connection
    error: str = ""         # set when the pass could not run to its end
    findings: list[Finding] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every source message is now recorded in Cyrus."""
        return self.failed == 0 and self.already + self.appended + self.reconciled == (
            self.source_messages
        )


T = TypeVar("T")

#: Exceptions that mean the connection to Cyrus is gone (not a refusal).
CONNECTION_LOST = (OSError, imaplib.IMAP4.abort)
#: Reconnections per folder before the user's copy is given up for this run.
RETRIES = 3
#: Refusal texts of Cyrus 3.6 that concern the folder, not the message (imap/imapd.c).
_FOLDER_REFUSALS = ("permission denied", "[noperm]", "[trycreate]", "does not exist",
                    "[readonly]")
_QUOTA_REFUSALS = ("over quota", "[overquota]")


class FolderStopped(Exception):
    """Cyrus refuses every message of this folder; carries the finding that says why."""

    def __init__(self, finding: Finding):
        super().__init__(finding.reason)
        self.finding = finding


def _server_extras(client: IMAPClient, above: int,
                   known: set[int]) -> dict[str, list[int]]:
    """SHA-1 -> UIDs (ascending) of the selected folder's messages with UID > ``above``
    that the ledger does not already hold (``known``)."""
    extras: dict[str, list[int]] = defaultdict(list)
    for uid, digest in sorted(digests(client, f"{above + 1}:*").items()):
        if uid > above and uid not in known:  # "N:*" includes the highest UID even if < N
            extras[digest].append(uid)
    return extras


def _still_returned(rows: Iterable[Message], folder: str,
                    recreated: bool) -> dict[str, list[Message]]:
    """The rollback rows a resync keeps, by the digest their mbox copy reads back as.

    Resync matches the file's messages with the folder's by digest, but a
    message a rollback returned may read back other than Cyrus's bytes
    (quoted ``From `` lines) or be held by another folder (one that only
    exists in Cyrus): matched by digest alone it would be appended a second
    time.  Rows of ``folder`` itself are dropped when it was recreated (its
    UIDs are gone); rows of older versions have no read-back digest and are
    matched by Cyrus's as before.
    """
    out: dict[str, list[Message]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.offset):
        own = row.cyrus_folder in (None, folder)
        if row.origin == "rollback" and row.mbox_sha1 and not (recreated and own):
            out[row.mbox_sha1].append(row)
    return out


def _alive(client: IMAPClient) -> bool:
    """Whether the connection still answers (imaplib reports a dropped APPEND as NO)."""
    try:
        client.noop()
    except Exception:  # noqa: BLE001 - any failure here means the session is unusable
        return False
    return True


def _define_keywords(client: IMAPClient, folder: str, words: tuple[str, ...]) -> list[str]:
    """Make the folder know the UW keywords no message carries; return those it could not.

    Cyrus keeps a folder's keyword list (FLAGS, PERMANENTFLAGS) once a keyword
    has been set on any message, so setting and clearing it on one message
    defines it, as the UW pseudo message did, without changing any message.
    """
    info = client.select_folder(folder)
    defined = {f.decode().lower() for f in info.get(b"FLAGS", ())}
    missing = [w for w in words if w.lower() not in defined]
    if not missing:
        return []
    uids = client.search("ALL")
    if not uids:
        return missing
    client.add_flags(uids[:1], missing, silent=True)
    client.remove_flags(uids[:1], missing, silent=True)
    return []


@dataclass
class FolderRead:
    """A mailbox being read ahead, and its stamp taken before its first byte was read."""

    stamp: str | None
    messages: Prefetch[MboxMessage]


def read_ahead(cfg: Config, path: Path, source: str) -> FolderRead:
    """Start reading a mailbox in a thread, up to one batch's bytes ahead of the sender."""
    stamp = file_stamp(path)
    return FolderRead(stamp, Prefetch(read_folder(path, display_name=source),
                                      lambda m: len(m.data), cfg.cyrus.batch_bytes))


class MailboxCopier:
    """Copies one mbox file into one folder over an already logged-in connection."""

    def __init__(self, cfg: Config, session: Session, client: IMAPClient, domain: str,
                 mailbox: Mailbox, advance: Callable[[int], None], resync: bool = False):
        self.cfg = cfg
        self.session = session
        self.client = client
        self.domain = domain
        self.mailbox = mailbox
        self.advance = advance
        self.resync = resync
        self.result = MailboxResult(mailbox.user.name, mailbox.source, mailbox.folder)
        self.batch: list[MboxMessage] = []
        self.batch_bytes = 0
        self.done_in_batch = 0  # messages of the current batch stored or refused so far
        self.stopped = False
        self.rows: list[dict] = []  # ledger rows not yet written: one INSERT per batch
        # UID -> (SHA-1 sent, line, From_ line, UIDVALIDITY) of this pass, for _check_stored
        self.stored: dict[int, tuple[str, int, bytes, int | None]] = {}
        self.limit = append_limit(client)

    def _finding(self, f: Finding) -> None:
        self.result.findings.append(f)
        record_finding(self.session, "copy", self.domain, self.mailbox.user.name, f)

    def _too_big(self, msg: MboxMessage) -> None:
        """A message above the server's APPENDLIMIT: reported, not sent, copied on a re-run
        once the limit allows (it has no ledger row)."""
        self.result.failed += 1
        self._finding(Finding(
            "error", self.mailbox.source, msg.line, msg.from_line.decode("latin-1").rstrip(),
            f"the message ({len(msg.data)} bytes as sent) is larger than Cyrus accepts "
            f"(APPENDLIMIT={self.limit}, its maxmessagesize); it was not sent",
            "raise maxmessagesize in Cyrus's imapd.conf (or save the message elsewhere) and "
            "re-run copy; the rest of the folder was copied", code="CP011",
            subject=self.mailbox.folder))

    def _refuse(self, code: str, text: str, reason: str, suggestion: str) -> MailboxResult:
        mb = self.mailbox
        self._finding(Finding("error", mb.source, None, text, reason, suggestion, code=code,
                              subject=mb.folder))
        self.result.failed += 1
        self._commit()
        return self.result

    def _commit(self) -> None:
        """Write the ledger rows gathered since the last commit, then commit."""
        if self.rows:
            self.session.execute(insert(Message), self.rows)
            self.rows = []
        self.session.commit()

    def run(self, ahead: FolderRead | None = None) -> MailboxResult:
        """One pass: check the source, reconcile with the server, append what is missing,
        check what Cyrus stored.

        ``ahead`` is this mailbox's reader if it was started before (see
        ``read_ahead``); it is closed whatever happens.
        """
        mb = self.mailbox
        path = on_disk(self.cfg.site_root, mb.source)
        if not path.exists():
            if ahead is not None:
                ahead.messages.close()
            return self._refuse("CP001", "", "source mailbox has vanished",
                                "check the old server; nothing was changed in Cyrus")
        reading = ahead or read_ahead(self.cfg, path, mb.source)
        with reading.messages:
            return self._run(path, reading)

    def _run(self, path: Path, reading: FolderRead) -> MailboxResult:
        mb = self.mailbox
        recorded = {
            m.offset: m for m in self.session.scalars(
                select(Message).where(Message.mailbox_id == mb.id))
        }
        changed = source_change(path, recorded.values())
        if changed and not self.resync:
            return self._refuse(
                "CP002", changed, "source mailbox was rewritten since the last pass "
                "(messages deleted or changed in the old mail client); Cyrus folder "
                f"{mb.folder} was left unchanged",
                "see 'mailmigrate verify'; then 'mailmigrate copy --resync' appends what "
                "the file holds now and is not in the folder (nothing is deleted)")
        size = folder_size(path)
        if not ensure_folder(self.client, mb.folder):  # a folder it creates, it subscribes
            subscribe(self.client, mb.folder)
        info = self.client.select_folder(mb.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        recreated = mb.uidvalidity is not None and mb.uidvalidity != uidvalidity and recorded
        if recreated and not self.resync:
            return self._refuse(
                "CP003", f"UIDVALIDITY {mb.uidvalidity} -> {uidvalidity}",
                f"Cyrus folder {mb.folder} was recreated since the last pass; the recorded "
                "UIDs no longer hold", "check the folder in Cyrus, then run 'mailmigrate "
                "copy --resync' to match its messages again by digest")
        # Reconciling only above the highest recorded UID finds everything a dead run
        # stored but did not record as long as ledger rows are committed in the order
        # Cyrus assigned the UIDs (batch after batch, pipelined or not): keep it so.
        top = max((m.uid or 0 for m in recorded.values() if m.origin == "copy"), default=0)
        returned: dict[str, list[Message]] = {}
        if changed or recreated:
            returned = _still_returned(recorded.values(), mb.folder, bool(recreated))
            self.session.execute(delete(Message).where(Message.mailbox_id == mb.id))
            self._finding(Finding(
                "warning", mb.source, None, changed or f"UIDVALIDITY -> {uidvalidity}",
                f"resync: the ledger of {mb.folder} was rebuilt from the source as it is now; "
                "messages in the folder that the source no longer holds were left there",
                "list them with 'mailmigrate verify' and delete by hand if unwanted",
                code="CP008", subject=mb.folder))
            recorded, top = {}, 0
        mb.uidvalidity = uidvalidity
        known = {m.uid for m in recorded.values() if m.uid and m.uidvalidity == uidvalidity
                 and m.cyrus_folder in (None, mb.folder)}
        extras = _server_extras(self.client, top, known)
        for msg in reading.messages:
            self.result.source_messages += 1
            self.advance(msg.length)
            if msg.offset in recorded:
                self.result.already += 1
                continue
            if returned.get(msg.sha1):
                self._record_returned(msg, returned[msg.sha1].pop(0))
                self.result.already += 1
                continue
            uids = extras.get(msg.sha1)
            if uids:
                self._record(msg, uidvalidity, uids.pop(0))
                self.result.reconciled += 1
                continue
            if self.stopped:
                self.result.failed += 1
                continue
            if self.limit is not None and len(msg.data) > self.limit:
                self._too_big(msg)
                continue
            for f in msg.findings:
                self._finding(f)
            self.batch.append(msg)
            self.batch_bytes += len(msg.data)
            if (len(self.batch) >= self.cfg.cyrus.batch_messages
                    or self.batch_bytes >= self.cfg.cyrus.batch_bytes):
                self._flush()
        self._flush()
        self._commit()
        self._check_stored()
        if not path.is_dir() and not self.stopped:
            self._carry_keywords(path)
        mb.source_messages = self.result.source_messages
        mb.scanned_to = size
        whole = self.result.complete and not self.stopped
        mb.source_stamp = reading.stamp if whole and file_stamp(path) == reading.stamp else None
        self._commit()
        mb.copied_messages = self.session.query(Message).filter_by(mailbox_id=mb.id).count()
        self.session.commit()
        return self.result

    def _carry_keywords(self, path: Path) -> None:
        """Define the folder keywords of the UW pseudo message in the Cyrus folder."""
        words = folder_keywords(path)
        left = _define_keywords(self.client, self.mailbox.folder, words) if words else []
        if left:
            self._finding(Finding(
                "info", self.mailbox.source, 1, " ".join(left),
                "the folder's keywords could not be defined in the empty Cyrus folder",
                "they appear as soon as a message carries them", code="CP009",
                subject=self.mailbox.folder))

    def _record(self, msg: MboxMessage, uidvalidity: int | None, uid: int | None) -> None:
        # a plain row, not an ORM object: 20,000 Message objects cost a second of CPU
        self.rows.append({"mailbox_id": self.mailbox.id, "offset": msg.offset,
                          "length": msg.length, "sha1": msg.sha1,
                          "uidvalidity": uidvalidity, "uid": uid, "origin": "copy",
                          "cyrus_folder": None, "mbox_sha1": None})
        if uid is not None:  # not the message: its bytes must not stay in memory
            self.stored[uid] = (msg.sha1, msg.line, msg.from_line, uidvalidity)

    def _record_returned(self, msg: MboxMessage, row: Message) -> None:
        """Record a message a rollback returned, found again by a resync at ``msg.offset``:
        it is the Cyrus message ``row`` names (same keys; one row per batch INSERT)."""
        self.rows.append({"mailbox_id": self.mailbox.id, "offset": msg.offset,
                          "length": msg.length, "sha1": row.sha1,
                          "uidvalidity": row.uidvalidity, "uid": row.uid, "origin": "rollback",
                          "cyrus_folder": row.cyrus_folder, "mbox_sha1": row.mbox_sha1})

    def _check_stored(self) -> None:
        """Compare what Cyrus holds under each UID of this pass with the SHA-1 sent.

        One ``UID FETCH DIGEST.SHA1`` per folder (Cyrus answers from its
        index): the copy's own proof that every message arrived whole; a
        difference (Cyrus altered the bytes, or the UID is gone) is a finding
        and ``verify`` lists it too.
        """
        if not self.stored:
            return
        self.client.select_folder(self.mailbox.folder, readonly=True)
        found = digests(self.client, self.stored)
        for uid, (sha1, line, from_line, uidvalidity) in sorted(self.stored.items()):
            got = found.get(uid)
            if got == sha1:
                continue
            what = (f"UID {uid} holds SHA-1 {got}" if got else f"UID {uid} is not there")
            self.result.altered += 1
            self._finding(Finding(
                "error", self.mailbox.source, line, from_line.decode("latin-1"),
                f"Cyrus does not hold the message as sent (SHA-1 {sha1}): {what} in "
                f"{self.mailbox.folder} (UIDVALIDITY {uidvalidity})",
                "compare the two copies; 'mailmigrate verify' lists the folder's differences",
                code="CP010", subject=self.mailbox.folder))
        self.stored.clear()

    def _flush(self) -> None:
        """Send the batch, write the previous batch's ledger rows while Cyrus stores
        this one, then wait for its answer.

        Rows are still committed in the order Cyrus assigned the UIDs (the
        previous batch's before this one's), which reconciliation relies on.
        """
        if self.batch:
            try:
                waiting = start_append(self.client, self.mailbox.folder,
                                       [Outgoing(m.data, m.flags, m.internaldate)
                                        for m in self.batch])
                self._commit()
                self._append(self.batch, waiting)
            except FolderStopped as exc:
                self.stopped = True
                self.result.failed += len(self.batch) - self.done_in_batch
                self._finding(exc.finding)
                self._commit()
        self.batch, self.batch_bytes = [], 0
        self.done_in_batch = 0

    def _append(self, msgs: list[MboxMessage],
                sent: Callable[[], tuple[int | None, list[int]]] | None = None) -> None:
        """Append (or wait for ``sent``, the answer to ``msgs`` already sent); on a
        message refusal split the batch until the bad message is alone."""
        try:
            if sent is None:
                sent = start_append(self.client, self.mailbox.folder,
                                     [Outgoing(m.data, m.flags, m.internaldate) for m in msgs])
            uidvalidity, uids = sent()
        except AppendRefused as exc:
            if not _alive(self.client):
                raise ConnectionError(f"connection lost during APPEND to "
                                      f"{self.mailbox.folder}: {exc}") from exc
            stored = getattr(exc, "stored", None)
            if stored and stored[1]:
                done = len(stored[1])
                for m, uid in zip(msgs[:done], stored[1], strict=True):
                    self._record(m, stored[0], uid)
                self.result.appended += done
                self.done_in_batch += done
                msgs = msgs[done:]
            self._check_folder_refusal(str(exc), msgs)
            if len(msgs) > 1:
                half = len(msgs) // 2
                self._append(msgs[:half])
                self._append(msgs[half:])
                return
            if msgs:
                m = msgs[0]
                self.result.failed += 1
                self.done_in_batch += 1
                self._finding(Finding(
                    "error", self.mailbox.source, m.line,
                    m.from_line.decode("latin-1").rstrip(),
                    f"Cyrus refused the message ({len(m.data)} bytes) for "
                    f"{self.mailbox.folder}: {exc}", "fix the message by hand "
                    "(see the reason) and re-run copy; the rest of the folder was copied",
                    code="CP004", subject=self.mailbox.folder))
            return
        if len(uids) != len(msgs):
            uids = [None] * len(msgs)  # server without UIDPLUS: verify finds them by digest
        for m, uid in zip(msgs, uids, strict=True):
            self._record(m, uidvalidity, uid)
        self.result.appended += len(msgs)
        self.done_in_batch += len(msgs)

    def _check_folder_refusal(self, text: str, msgs: list[MboxMessage]) -> None:
        """Raise FolderStopped when the refusal concerns the folder, not these messages."""
        low = text.lower()
        folder = self.mailbox.folder
        user = self.mailbox.user.name
        if any(k in low for k in _FOLDER_REFUSALS):
            raise FolderStopped(Finding(
                "error", self.mailbox.source, None, text,
                f"Cyrus refuses to store anything in {folder} of {user}: {text}",
                f"check the folder and its ACL (user {user} needs the 'i' right), then "
                "re-run copy; what was copied is kept", code="CP006", subject=folder))
        if len(msgs) > 1 and any(k in low for k in _QUOTA_REFUSALS):
            # one message too big for what is left is reported alone (CP004); the folder
            # stops when not even the smallest message of a batch fits any more
            free = self._quota_free()
            if free is not None and min(len(m.data) for m in msgs) > free:
                raise FolderStopped(Finding(
                    "error", self.mailbox.source, None, text,
                    f"the quota of {user} is full ({free} bytes left) while copying {folder}; "
                    "the rest of this folder was not copied",
                    f"raise the quota of user/{user} (or set it after the copy) and re-run "
                    "copy; what was copied is kept", code="CP005", subject=folder))

    def _quota_free(self) -> int | None:
        """Bytes (or 0 when the message count limit is reached) left under the folder's quota."""
        _roots, quotas = self.client.get_quota_root(self.mailbox.folder)
        free: int | None = None
        for q in quotas:
            if q.resource.upper() == "STORAGE":
                # usage is reported in whole KiB, rounded down: up to 1 KiB more is used
                left = max(0, (q.limit - q.usage - 1) * 1024)
            elif q.resource.upper() == "MESSAGE":
                left = 0 if q.usage >= q.limit else None
            else:
                continue
            if left is not None:
                free = left if free is None else min(free, left)
        return free


@dataclass
class UserShare:
    """Some of a big user's mailboxes, copied on a connection of their own.

    The shares of one user run at once; the one that finishes last subscribes
    the old lists, knowing every folder the others filled, and reports with
    the user's INBOX as an unshared user does.  A share that
    stopped on a lost connection never finishes, so, as for an unshared user,
    the subscriptions wait for a run that gets through.
    """

    mailboxes: frozenset[int]
    split: _Split


@dataclass
class _Split:
    left: int
    results: list[MailboxResult] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, results: list[MailboxResult]) -> list[MailboxResult] | None:
        """Note a share's results; all the user's when it was the last share to finish."""
        with self.lock:
            self.results += results
            self.left -= 1
            return list(self.results) if self.left == 0 else None


def _shares(users: list[tuple[int, list[tuple[int, int]]]],
            connections: int) -> list[tuple[int, UserShare | None]]:
    """Work units, biggest first: a user, or a share of a user with more than a
    connection's fair part of the bytes (so one big user does not leave the
    other connections idle).  ``users``: (user id, [(mailbox id, bytes)])."""
    total = sum(b for _, mbs in users for _, b in mbs) or 1
    units: list[tuple[int, int, UserShare | None]] = []
    for uid, mbs in users:
        size = sum(b for _, b in mbs)
        k = min(len(mbs), connections, -(-size * connections // total))
        if k <= 1:
            units.append((size, uid, None))
            continue
        bins: list[tuple[int, list[int]]] = [(0, []) for _ in range(k)]
        for mid, b in sorted(mbs, key=lambda m: -m[1]):  # greedy: into the lightest share
            i = min(range(k), key=lambda j: bins[j][0])
            bins[i] = (bins[i][0] + b, bins[i][1] + [mid])
        split = _Split(left=k)
        units += [(b, uid, UserShare(frozenset(ids), split)) for b, ids in bins]
    units.sort(key=lambda u: -u[0])
    return [(uid, share) for _, uid, share in units]


def _copy_user(cfg: Config, domain: str, user_id: int, advance: Callable[[int], None],
               resync: bool, share: UserShare | None = None) -> list[MailboxResult]:
    """Copy one user's mailboxes (or a share of them) on one connection, reconnecting
    when it is lost.

    Each step (a folder's pass, the subscriptions) is simply run again on a
    new connection: a pass starts by reconciling with the server, so a batch
    the lost connection may or may not have stored is found, not doubled.
    """
    results: list[MailboxResult] = []
    with open_tracker(cfg.db_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        name = user.name
        client: IMAPClient | None = None

        def attempt(work: Callable[[IMAPClient], T]) -> tuple[T | None, int, Exception | None]:
            nonlocal client
            for n in range(RETRIES + 1):
                try:
                    if client is None:
                        client = connect(cfg.cyrus, name)
                    return work(client), n, None
                except CONNECTION_LOST as exc:
                    session.rollback()
                    _drop(client)
                    client = None
                    if n == RETRIES:
                        return None, n, exc
                    time.sleep(0.5 * 2 ** n)
            raise AssertionError("unreachable")

        mine = [mb for mb in user.mailboxes if share is None or mb.id in share.mailboxes]
        # the next mailbox is read while this one's last batches are with Cyrus; a reader
        # is used by the first attempt at its mailbox only (a retry reads afresh)
        started: dict[int, FolderRead] = {}
        try:
            for i, mb in enumerate(mine):
                if i + 1 < len(mine):
                    nxt = mine[i + 1]
                    path = on_disk(cfg.site_root, nxt.source)
                    if path.exists():
                        started[nxt.id] = read_ahead(cfg, path, nxt.source)
                res, n, exc = attempt(lambda c, mb=mb: MailboxCopier(
                    cfg, session, c, domain, mb, advance, resync).run(started.pop(mb.id, None)))
                if exc is not None or res is None:
                    results.append(_lost(session, domain, name, mb.source, mb.folder, exc, n))
                    return results
                res.retries = n
                results.append(res)
            everyone = results  # of this user, for the subscriptions step
            if share is not None:
                everyone = share.split.finish(results)
                if everyone is None:
                    return results
            copied = {r.folder for r in everyone}
            listed, n, exc = attempt(
                lambda c: subscribe_listed(cfg, session, c, domain, user, copied))
            if exc is not None:
                results.append(_lost(session, domain, name, user.old_home, "(subscriptions)",
                                     exc, n))
            elif listed and everyone:  # reported with the INBOX, where a reader looks
                inbox = next((r for r in everyone if r.folder == "INBOX"), everyone[0])
                inbox.findings.extend(listed)
        finally:
            for reading in started.values():
                reading.messages.close()
            _drop(client)
    return results


def _drop(client: IMAPClient | None) -> None:
    """Close a connection that may already be dead."""
    if client is None:
        return
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the session is being thrown away either way
        client.shutdown()


def _lost(session: Session, domain: str, user: str, source: str, folder: str,
          exc: Exception | None, attempt: int) -> MailboxResult:
    """The result of a step whose connection kept failing: one finding names the folder."""
    res = MailboxResult(user, source, folder, failed=1, retries=attempt,
                        error=str(exc) or type(exc).__name__)
    f = Finding("error", source, None, res.error,
                f"the connection to Cyrus was lost {attempt + 1} times while copying "
                f"{folder} of {user}; this user's copy stopped here",
                "check the server, then re-run copy: it continues where it stopped",
                code="CP007", subject=folder)
    res.findings.append(f)
    record_finding(session, "copy", domain, user, f)
    session.commit()
    return res


def ensure_users(cfg: Config, users: list[str]) -> None:
    """Create each user's Cyrus mailbox (``user/NAME``) as admin when missing."""
    client = connect(cfg.cyrus)
    try:
        for name in users:
            try:  # not LIST first: Cyrus answers an admin's LIST in tens of ms per user
                client.create_folder(f"user/{name}")
            except IMAPClientError as exc:
                if not already_exists(exc):
                    raise
    finally:
        client.logout()


def copy_domain(cfg: Config, domain: str, *, progress: bool = True,
                resync: bool = False) -> list[MailboxResult]:
    """Copy every mailbox of every user of ``domain``; users (and shares of big users'
    folders, see ``_shares``) run in parallel, biggest first.

    ``resync`` lets a pass go on where the old mbox was rewritten or the Cyrus
    folder recreated (see the module docstring); without it such a mailbox is
    only reported.
    """
    with open_tracker(cfg.db_url) as session:
        drow = session.scalar(select(Domain).where(Domain.name == domain))
        if drow is None:
            raise UnknownDomain(domain)
        users = [(u.id, u.name) for u in drow.users]
        units = _shares([(u.id, [(m.id, m.source_bytes) for m in u.mailboxes])
                         for u in drow.users], max(1, cfg.cyrus.connections))
        total = sum(m.source_bytes for u in drow.users for m in u.mailboxes)
    ensure_users(cfg, [name for _, name in users])
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"copy {domain}",
               disable=not progress)
    lock = threading.Lock()

    def advance(n: int) -> None:
        with lock:
            bar.update(n)

    results: list[MailboxResult] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, cfg.cyrus.connections)) as pool:
            for part in pool.map(
                    lambda u: _copy_user(cfg, domain, u[0], advance, resync, u[1]), units):
                results.extend(part)
    finally:
        bar.close()
    return results
