"""Both APPEND paths of the copy engine against the real Cyrus.

The sandbox runs one imapd with MULTIAPPEND and LITERAL+ (batches in one
command) and a second one on the same mailboxes that hides both, so the
fallback (one APPEND per message, synchronising literals) runs for real too.
Each test copies a small synthetic site into fresh random users through the
CLI and checks, message by message, that what Cyrus stored is what the reader
produced (DIGEST.SHA1, flags, INTERNALDATE) and that the ledger's UIDs point
at exactly those messages.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "samples"))
sys.path.insert(0, str(REPO / "samples" / "sandbox"))

import sandbox  # noqa: E402
from make_spools import build  # noqa: E402
from spool_site import clone_site  # noqa: E402

from converters.mbox import read_folder  # noqa: E402
from migrate.config import CyrusConfig  # noqa: E402
from migrate.imap import AppendRefused, Outgoing, append_batch, connect  # noqa: E402

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

SANDBOX_DIR = Path(sandbox.default_dir())


@pytest.fixture(scope="module")
def servers() -> dict:
    proc = subprocess.run([sys.executable, str(REPO / "samples/sandbox/sandbox.py"), "start",
                           "--dir", str(SANDBOX_DIR)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return tomllib.loads((SANDBOX_DIR / "servers.toml").read_text())


@pytest.fixture
def scratch() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mailmigrate-append-", dir="/var/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _admin(servers: dict, user: str | None = None, port: int | None = None) -> IMAPClient:
    cy = servers["cyrus"]
    client = IMAPClient(cy["host"], port=port or cy["imap_port"], ssl=False, timeout=60)
    client.plain_login(cy["admin"], Path(cy["password_file"]).read_text().strip(),
                       authorization_identity=user)
    return client


def _delete_users(servers: dict, users: list[str]) -> None:
    client = _admin(servers)
    try:
        for user in users:
            box = f"user/{user}"
            if client.folder_exists(box):
                client.setacl(box, servers["cyrus"]["admin"], "lrswipkxtecda")
                client.delete_folder(box)
    finally:
        client.logout()


def _cyrus_config(servers: dict, port: int) -> CyrusConfig:
    cy = servers["cyrus"]
    return CyrusConfig(host=cy["host"], imap_port=port, admin=cy["admin"],
                       password_file=cy["password_file"])


def _capabilities(servers: dict, port: int) -> set[bytes]:
    client = _admin(servers, port=port)
    try:
        return set(client.capabilities())
    finally:
        client.logout()


@pytest.mark.parametrize(("port", "users", "connections"),
                         [(sandbox.IMAP_PORT, 1, 3), (sandbox.PLAIN_IMAP_PORT, 2, 2)],
                         ids=["multiappend-one-user-in-shares", "one-append-per-message"])
def test_copy_stores_exactly_what_was_read(servers: dict, scratch: Path, port: int,
                                           users: int, connections: int) -> None:
    """With one user and three connections the user's folders are copied in shares."""
    caps = _capabilities(servers, port)
    batched = port == sandbox.IMAP_PORT
    # the test is only worth something if the port really offers (or hides) the path
    if batched:
        assert {b"MULTIAPPEND", b"LITERAL+"} <= caps
    else:
        assert not {b"MULTIAPPEND", b"LITERAL+"} & caps

    build(scratch / "corpus", users=users, messages=90, big=False, seed=11)
    tag = f"t{secrets.token_hex(3)}"
    domain = f"{tag}.example"
    names = clone_site(scratch / "corpus", scratch / "site", tag, domain)
    cy = servers["cyrus"]
    (scratch / "mailmigrate.toml").write_text(
        '[site]\nroot = "site"\n[tracker]\ndb = "sqlite:///tracker.sqlite"\n'
        '[output]\ndir = "out"\n[cyrus]\n'
        f'host = "{cy["host"]}"\nimap_port = {port}\nadmin = "{cy["admin"]}"\n'
        f'password_file = "{cy["password_file"]}"\nbatch_messages = 7\n'
        f'connections = {connections}\n')

    def mm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "migrate", "--config",
                               str(scratch / "mailmigrate.toml"), *args],
                              capture_output=True, text=True, timeout=600, cwd=REPO)

    try:
        assert mm("inventory").returncode == 0
        first = mm("--json", "copy", "--domain", domain)
        assert first.returncode == 0, first.stderr
        rows = json.loads(first.stdout)["mailboxes"]
        manifest = json.loads((scratch / "corpus/manifest.json").read_text())["folders"]
        assert sum(r["appended"] for r in rows) == sum(manifest.values())

        db = sqlite3.connect(scratch / "tracker.sqlite")
        ledger = db.execute(
            "SELECT u.name, b.folder, b.source, m.offset, m.sha1, m.uid FROM messages m "
            "JOIN mailboxes b ON m.mailbox_id = b.id JOIN users u ON b.user_id = u.id"
        ).fetchall()
        db.close()
        assert len(ledger) == sum(manifest.values())
        by_folder: dict[tuple[str, str, str], dict[int, tuple[str, int]]] = {}
        for user, folder, source, offset, sha1, uid in ledger:
            by_folder.setdefault((user, folder, source), {})[offset] = (sha1, uid)

        for (user, folder, source), recorded in by_folder.items():
            client = _admin(servers, user)
            try:
                client.select_folder(folder, readonly=True)
                # imapclient works in UIDs: search answers UIDs, fetch is keyed by them
                by_uid = client.fetch(client.search("ALL"),
                                      ["DIGEST.SHA1", "FLAGS", "INTERNALDATE"])
            finally:
                client.logout()
            assert sorted(uid for _, uid in recorded.values()) == sorted(by_uid)
            path = scratch / "site" / source.lstrip("/")
            for msg in read_folder(path):
                sha1, uid = recorded[msg.offset]
                got = by_uid[uid]
                assert got[b"DIGEST.SHA1"].decode().lower() == sha1 == msg.sha1
                flags = {f.decode() for f in got[b"FLAGS"]} - {"\\Recent"}
                assert flags == set(msg.flags), (source, msg.line)
                when = got[b"INTERNALDATE"]
                when = when if when.tzinfo else when.astimezone()
                assert when.astimezone(UTC) == msg.internaldate.astimezone(UTC)

        again = mm("--json", "copy", "--domain", domain)
        assert again.returncode == 0, again.stderr
        rows = json.loads(again.stdout)["mailboxes"]
        assert sum(r["appended"] for r in rows) == 0
        assert sum(r["already"] for r in rows) == sum(manifest.values())
    finally:
        _delete_users(servers, list(names.values()))


def _message(subject: str, body: bytes = b"body\r\n") -> Outgoing:
    data = b"From: a@example.com\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body
    return Outgoing(data, ("\\Seen",), datetime(2020, 5, 4, 3, 2, 1, tzinfo=UTC))


@pytest.mark.parametrize("port", [sandbox.IMAP_PORT, sandbox.PLAIN_IMAP_PORT],
                         ids=["multiappend", "one-append-per-message"])
def test_refused_message_in_a_batch(servers: dict, port: int) -> None:
    """MULTIAPPEND stores nothing of a refused batch; the fallback says how many went in."""
    user = f"t{secrets.token_hex(4)}"
    admin = _admin(servers)
    admin.create_folder(f"user/{user}")
    admin.logout()
    batch = [_message("one"), _message("two"),
             _message("NUL", b"Cyrus refuses a \0 byte\r\n"), _message("four")]
    client = connect(_cyrus_config(servers, port), user)
    try:
        with pytest.raises(AppendRefused, match="(?i)NUL") as refused:
            append_batch(client, "INBOX", batch)
        stored = getattr(refused.value, "stored", None)
        client.select_folder("INBOX", readonly=True)
        held = client.fetch(client.search("ALL"), ["DIGEST.SHA1"])
        if port == sandbox.IMAP_PORT:
            assert stored is None and held == {}
        else:
            uidvalidity, uids = stored
            assert len(uids) == 2 and uidvalidity
            assert len(held) == 2
        uidvalidity, uids = append_batch(client, "INBOX", [batch[0], batch[3]])
        assert len(uids) == 2
    finally:
        client.logout()
        _delete_users(servers, [user])


def test_messages_over_the_appendlimit_are_reported_not_sent(servers: dict,
                                                             scratch: Path) -> None:
    """The sandbox's third imapd advertises APPENDLIMIT (maxmessagesize): oversized
    messages get a finding each and stay out of the batches, the rest go in; once the
    limit allows (the main imapd), a re-run copies just those."""
    caps = _capabilities(servers, sandbox.LIMITED_IMAP_PORT)
    assert f"APPENDLIMIT={sandbox.LIMITED_MESSAGE_SIZE}".encode() in caps
    corpus = scratch / "corpus"
    (corpus / "var/mail").mkdir(parents=True)
    (corpus / "home/big").mkdir(parents=True)
    (corpus / "etc").mkdir()
    (corpus / "etc/passwd").write_text("big:x:1000:1000::/home/big:/bin/sh\n")
    sizes = [100, sandbox.LIMITED_MESSAGE_SIZE + 1000, 200, 3 * sandbox.LIMITED_MESSAGE_SIZE, 50]
    starts, line = [], 1  # the line of each message's From_ line
    with (corpus / "var/mail/big").open("wb") as fh:
        for n, size in enumerate(sizes):
            body = (b"y" * 71 + b"\n") * max(1, size // 72)
            data = (f"From s{n}@example.net Mon Jan  1 00:00:0{n} 2001\nFrom: s{n}@example.net\n"
                    f"Subject: {n}\nMessage-ID: <limit{n}@example.net>\n\n".encode() + body + b"\n")
            fh.write(data)
            starts.append(line)
            line += data.count(b"\n")
    tag = f"t{secrets.token_hex(3)}"
    domain = f"{tag}.example"
    names = clone_site(corpus, scratch / "site", tag, domain)
    cy = servers["cyrus"]

    def mm(port: int, *args: str) -> subprocess.CompletedProcess:
        (scratch / "mailmigrate.toml").write_text(
            '[site]\nroot = "site"\n[tracker]\ndb = "sqlite:///tracker.sqlite"\n'
            '[output]\ndir = "out"\n[cyrus]\n'
            f'host = "{cy["host"]}"\nimap_port = {port}\nadmin = "{cy["admin"]}"\n'
            f'password_file = "{cy["password_file"]}"\n')
        return subprocess.run([sys.executable, "-m", "migrate", "--config",
                               str(scratch / "mailmigrate.toml"), "--json", *args],
                              capture_output=True, text=True, timeout=600, cwd=REPO)

    try:
        assert mm(sandbox.LIMITED_IMAP_PORT, "inventory").returncode == 0
        first = mm(sandbox.LIMITED_IMAP_PORT, "copy", "--domain", domain)
        assert first.returncode == 3, first.stdout + first.stderr  # done, a person needed
        [row] = json.loads(first.stdout)["mailboxes"]
        assert (row["appended"], row["failed"]) == (3, 2)
        too_big = [f for f in row["findings"] if f["code"] == "CP011"]
        assert [f["line"] for f in too_big] == [starts[1], starts[3]]
        user = names["big"]
        client = _admin(servers, user)
        try:
            client.select_folder("INBOX", readonly=True)
            assert len(client.search("ALL")) == 3
        finally:
            client.logout()
        second = mm(sandbox.IMAP_PORT, "copy", "--domain", domain)
        assert second.returncode == 0, second.stdout + second.stderr
        [row] = json.loads(second.stdout)["mailboxes"]
        assert (row["appended"], row["already"]) == (2, 3)
        assert mm(sandbox.IMAP_PORT, "verify", "--domain", domain).returncode == 0
    finally:
        _delete_users(servers, list(names.values()))
