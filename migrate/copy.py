"""``mailmigrate copy``: mbox spools and folders into Cyrus, exactly once.

Each source message is identified by (mailbox, byte offset) and its SHA-1;
the tracker records the UIDVALIDITY/UID that APPENDUID returned for it.  A
re-run (or a delta pass after new mail reached the old spool) copies only
messages the ledger does not know.  If a run died after Cyrus committed a
batch but before the ledger recorded it, the next run finds those messages on
the server by ``FETCH DIGEST.SHA1`` above the last recorded UID and records
them instead of appending them a second time.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from imapclient import IMAPClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from converters.finding import Finding
from converters.mbox import MboxMessage, read_mbox
from migrate.config import Config
from migrate.errors import UnknownDomain
from migrate.imap import AppendRefused, Outgoing, append_batch, connect, ensure_folder
from migrate.sitefs import on_disk
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
    findings: list[Finding] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every source message is now recorded in Cyrus."""
        return self.failed == 0 and self.already + self.appended + self.reconciled == (
            self.source_messages
        )


def _server_extras(client: IMAPClient, above: int) -> dict[str, list[int]]:
    """SHA-1 -> UIDs of the selected folder's messages with UID > ``above``."""
    uids = [u for u in client.search(["UID", f"{above + 1}:*"]) if u > above]
    extras: dict[str, list[int]] = defaultdict(list)
    if uids:
        for uid, data in client.fetch(uids, ["DIGEST.SHA1"]).items():
            digest = data.get(b"DIGEST.SHA1")
            if digest:
                extras[digest.decode("ascii").lower()].append(uid)
    return extras


class MailboxCopier:
    """Copies one mbox file into one folder over an already logged-in connection."""

    def __init__(self, cfg: Config, session: Session, client: IMAPClient, domain: str,
                 mailbox: Mailbox, advance: Callable[[int], None]):
        self.cfg = cfg
        self.session = session
        self.client = client
        self.domain = domain
        self.mailbox = mailbox
        self.advance = advance
        self.result = MailboxResult(mailbox.user.name, mailbox.source, mailbox.folder)
        self.batch: list[MboxMessage] = []
        self.batch_bytes = 0

    def _finding(self, f: Finding) -> None:
        self.result.findings.append(f)
        record_finding(self.session, "copy", self.domain, self.mailbox.user.name, f)

    def run(self) -> MailboxResult:
        """One pass: reconcile with the server, then append what is missing."""
        mb = self.mailbox
        path = on_disk(self.cfg.site_root, mb.source)
        if not path.is_file():
            self._finding(Finding("error", mb.source, None, "", "source mailbox has vanished",
                                  "check the old server; nothing was changed in Cyrus",
                                  code="CP001", subject=mb.folder))
            self.result.failed += 1
            return self.result
        size = path.stat().st_size
        if size < mb.scanned_to:
            self._finding(Finding(
                "error", mb.source, None, f"{size} bytes, {mb.scanned_to} at last pass",
                "source mailbox shrank since the last pass (messages deleted or rewritten "
                "in the old MUA); the target was left unchanged",
                "compare with 'mailmigrate verify' and decide by hand which side is right",
                code="CP002", subject=mb.folder))
            self.result.failed += 1
            return self.result
        ensure_folder(self.client, mb.folder)
        info = self.client.select_folder(mb.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        recorded = {
            m.offset: m for m in self.session.scalars(
                select(Message).where(Message.mailbox_id == mb.id))
        }
        if mb.uidvalidity is not None and mb.uidvalidity != uidvalidity and recorded:
            self._finding(Finding(
                "error", mb.source, None, f"UIDVALIDITY {mb.uidvalidity} -> {uidvalidity}",
                f"Cyrus folder {mb.folder} was recreated since the last pass; the recorded "
                "UIDs no longer hold", "check the folder in Cyrus, then clear this mailbox's "
                "ledger with 'mailmigrate copy --forget' and copy again", code="CP003",
                subject=mb.folder))
            self.result.failed += 1
            return self.result
        mb.uidvalidity = uidvalidity
        top = max((m.uid or 0 for m in recorded.values() if m.origin == "copy"), default=0)
        extras = _server_extras(self.client, top)
        for msg in read_mbox(path, display_name=mb.source):
            self.result.source_messages += 1
            self.advance(msg.length)
            if msg.offset in recorded:
                self.result.already += 1
                continue
            uids = extras.get(msg.sha1)
            if uids:
                self._record(msg, uidvalidity, uids.pop(0))
                self.result.reconciled += 1
                continue
            for f in msg.findings:
                self._finding(f)
            self.batch.append(msg)
            self.batch_bytes += len(msg.data)
            if (len(self.batch) >= self.cfg.cyrus.batch_messages
                    or self.batch_bytes >= self.cfg.cyrus.batch_bytes):
                self._flush()
        self._flush()
        mb.source_messages = self.result.source_messages
        mb.scanned_to = size
        mb.copied_messages = self.session.query(Message).filter_by(mailbox_id=mb.id).count()
        self.session.commit()
        return self.result

    def _record(self, msg: MboxMessage, uidvalidity: int | None, uid: int | None) -> None:
        self.session.add(Message(mailbox_id=self.mailbox.id, offset=msg.offset,
                                 length=msg.length, sha1=msg.sha1,
                                 uidvalidity=uidvalidity, uid=uid))

    def _flush(self) -> None:
        if self.batch:
            self._append(self.batch)
            self.session.commit()
        self.batch, self.batch_bytes = [], 0

    def _append(self, msgs: list[MboxMessage]) -> None:
        """Append; on refusal split the batch until the bad message is alone."""
        out = [Outgoing(m.data, m.flags, m.internaldate) for m in msgs]
        try:
            uidvalidity, uids = append_batch(self.client, self.mailbox.folder, out)
        except AppendRefused as exc:
            stored = getattr(exc, "stored", None)
            if stored and stored[1]:
                done = len(stored[1])
                for m, uid in zip(msgs[:done], stored[1], strict=True):
                    self._record(m, stored[0], uid)
                self.result.appended += done
                msgs = msgs[done:]
            if len(msgs) > 1:
                half = len(msgs) // 2
                self._append(msgs[:half])
                self._append(msgs[half:])
                return
            if msgs:
                m = msgs[0]
                self.result.failed += 1
                self._finding(Finding(
                    "error", self.mailbox.source, m.line,
                    m.from_line.decode("latin-1").rstrip(),
                    f"Cyrus refused the message: {exc}", "fix the message by hand "
                    "(see the reason) and re-run copy; the rest of the folder was copied",
                    code="CP004", subject=self.mailbox.folder))
            return
        if len(uids) != len(msgs):
            uids = [None] * len(msgs)  # server without UIDPLUS: verify finds them by digest
        for m, uid in zip(msgs, uids, strict=True):
            self._record(m, uidvalidity, uid)
        self.result.appended += len(msgs)


def _copy_user(cfg: Config, domain: str, user_id: int,
               advance: Callable[[int], None]) -> list[MailboxResult]:
    results = []
    with open_tracker(cfg.db_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        client = connect(cfg.cyrus, user.name)
        try:
            for mb in user.mailboxes:
                results.append(MailboxCopier(cfg, session, client, domain, mb, advance).run())
        finally:
            client.logout()
    return results


def ensure_users(cfg: Config, users: list[str]) -> None:
    """Create each user's Cyrus mailbox (``user/NAME``) as admin when missing."""
    client = connect(cfg.cyrus)
    try:
        for name in users:
            box = f"user/{name}"
            if not client.folder_exists(box):
                client.create_folder(box)
    finally:
        client.logout()


def copy_domain(cfg: Config, domain: str, *, progress: bool = True) -> list[MailboxResult]:
    """Copy every mailbox of every user of ``domain``; users run in parallel."""
    with open_tracker(cfg.db_url) as session:
        drow = session.scalar(select(Domain).where(Domain.name == domain))
        if drow is None:
            raise UnknownDomain(domain)
        users = [(u.id, u.name) for u in drow.users]
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
            for part in pool.map(lambda u: _copy_user(cfg, domain, u[0], advance), users):
                results.extend(part)
    finally:
        bar.close()
    return results
