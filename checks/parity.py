"""Mailbox parity: is every old message in its Cyrus folder, exactly once, unchanged?

Each old mbox is read again with the copy's reader, so its SHA-1s are what
Cyrus must have stored, and compared with ``FETCH DIGEST.SHA1`` of the whole
folder: the server hashes its own copy, nothing is downloaded.  Matching goes
by the copy ledger first (offset -> UID), then by digest, so duplicates in a
spool are counted as often as they occur.  Messages at or above the UIDNEXT
recorded at the switch arrived through the new system and are counted, not
reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

from converters.mbox import read_folder


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
    if not client.folder_exists(folder):
        return None
    info = client.select_folder(folder, readonly=True)
    uids = client.search("ALL")
    data = client.fetch(uids, ["DIGEST.SHA1"]) if uids else {}
    return int(info[b"UIDVALIDITY"]), {
        uid: d[b"DIGEST.SHA1"].decode("ascii").lower() for uid, d in data.items()}


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
