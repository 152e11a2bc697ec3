"""Mailbox parity: is every old message in its Cyrus folder, exactly once, unchanged?

Each old mbox is read again with the copy's reader, so its SHA-1s are what
Cyrus must have stored, and compared with ``FETCH DIGEST.SHA1`` of the whole
folder: the server hashes its own copy, nothing is downloaded.  Matching goes
by the copy ledger first (offset -> UID), then by digest, so duplicates in a
spool are counted as often as they occur.  Messages at or above the UIDNEXT
recorded at the switch arrived through the new system and are counted, not
reported.

Re-reading every source is most of verify's time, and needless for a file
that has not changed since a complete copy pass read it (same stamp, see
``migrate.source_check.file_stamp``): then the ledger's SHA-1s are what a
re-read would give, and ``matches_ledger`` compares them with the folder's
digests alone.  It only ever says "no difference"; on any doubt the folder
is read again and ``compare`` reports exactly what differs, with file:line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from converters.mbox import read_folder
from migrate.imap import digests, missing_folder


@dataclass
class FolderParity:
    """Differences between one old mailbox and its Cyrus folder."""

    user: str
    source: str
    folder: str
    source_messages: int = 0
    target_messages: int = 0
    arrived: int = 0  # delivered to Cyrus after the switch: not a difference
    missing: list[dict] = field(default_factory=list)    # in the source, not in Cyrus
    extra: list[dict] = field(default_factory=list)      # in Cyrus, not in the source
    different: list[dict] = field(default_factory=list)  # ledger UID holds other bytes
    problem: str = ""  # the comparison could not be made (folder or file missing)

    @property
    def differs(self) -> bool:
        return bool(self.missing or self.extra or self.different or self.problem)


def target_digests(client: IMAPClient, folder: str) -> tuple[int, dict[int, str]] | None:
    """(UIDVALIDITY, UID -> DIGEST.SHA1) of a folder, read-only; None if it does not exist."""
    try:  # not LIST first: Cyrus answers LIST in tens of ms, EXAMINE at once
        info = client.select_folder(folder, readonly=True)
    except IMAPClientError as exc:
        if missing_folder(exc):
            return None
        raise
    found = digests(client, "1:*") if int(info.get(b"EXISTS", 0)) else {}
    return int(info[b"UIDVALIDITY"]), found


def matches_ledger(parity: FolderParity, target: dict[int, str],
                   recorded: list[tuple[int | None, str]], source_messages: int,
                   arrived_from: int | None) -> bool:
    """Whether the folder holds exactly the recorded messages (``recorded``: one
    (UID, SHA-1) per source message); if so, fill ``parity``'s counts.

    False means "read the source again": a count that does not add up, a UID
    missing or holding other bytes, a message nobody recorded below the switch
    mark.
    """
    if len(recorded) != source_messages:
        return False
    claimed = set()
    for uid, sha1 in recorded:
        if uid is None or uid in claimed or target.get(uid) != sha1:
            return False
        claimed.add(uid)
    unrecorded = [uid for uid in target if uid not in claimed]
    if unrecorded and (arrived_from is None or min(unrecorded) < arrived_from):
        return False
    parity.source_messages = source_messages
    parity.target_messages = len(target)
    parity.arrived = len(unrecorded)
    return True


def compare(parity: FolderParity, path: Path, target: dict[int, str],
            ledger: dict[int, int], arrived_from: int | None) -> FolderParity:
    """Fill ``parity`` from the source file, the folder's digests and the ledger.

    ``ledger`` maps a source offset to the UID the copy recorded (only for
    the folder's current UIDVALIDITY); ``arrived_from`` is the switch mark.
    """
    parity.target_messages = len(target)
    unmatched = []
    claimed: set[int] = set()
    for msg in read_folder(path, display_name=parity.source):
        parity.source_messages += 1
        uid = ledger.get(msg.offset)
        if uid in target and uid not in claimed:
            claimed.add(uid)
            if target[uid] != msg.sha1:
                parity.different.append({"line": msg.line, "offset": msg.offset, "uid": uid,
                                         "source_sha1": msg.sha1, "target_sha1": target[uid]})
            continue
        unmatched.append(msg)
    by_digest: dict[str, list[int]] = defaultdict(list)
    for uid in sorted(target):
        if uid not in claimed:
            by_digest[target[uid]].append(uid)
    for msg in unmatched:
        uids = by_digest.get(msg.sha1)
        if uids:
            claimed.add(uids.pop(0))
            continue
        parity.missing.append({"line": msg.line, "offset": msg.offset, "sha1": msg.sha1,
                               "from": msg.from_line.decode("latin-1")})
    for uid in sorted(set(target) - claimed):
        if arrived_from is not None and uid >= arrived_from:
            parity.arrived += 1
        else:
            parity.extra.append({"uid": uid, "sha1": target[uid]})
    return parity
