"""Live tests of the sandbox servers: what the migration relies on, checked for real.

They start the sandbox (samples/sandbox/sandbox.py; idempotent, so a sandbox
that already runs is reused), then check: the admin can act as a user over
IMAP and ManageSieve; Postfix routes by the rows of routing.sqlite to Cyrus
over LMTP or to the old mbox spool; a changed row re-routes the next message
without a reload; Sieve's outgoing mail is recorded, not sent.  Each run owns
its users, domains and rows (random names) and removes them afterwards.  The
last test stops the sandbox and starts it again, so it is left running.
"""

from __future__ import annotations

import grp
import json
import os
import secrets
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sievelib.managesieve import Client as SieveClient

from migrate.routing import RoutingTable

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "samples" / "sandbox" / "sandbox.py"
DELIVERY_TIMEOUT = 30.0


def sandbox_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the sandbox command line as an operator would."""
    return subprocess.run([sys.executable, str(SANDBOX), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def servers() -> dict:
    """Start the sandbox (or find it running) and return its servers.toml."""
    proc = sandbox_cli("start")
    assert proc.returncode == 0, proc.stderr
    sandbox_dir = os.environ.get("MAILMIGRATE_SANDBOX") or "/var/tmp/mailmigrate-sandbox"
    conf = tomllib.loads((Path(sandbox_dir) / "servers.toml").read_text())
    conf["password"] = Path(conf["cyrus"]["password_file"]).read_text().strip()
    return conf


def imap(conf: dict, as_user: str | None = None) -> IMAPClient:
    """An IMAP session as the admin, or as a user by SASL PLAIN authorization."""
    cy = conf["cyrus"]
    client = IMAPClient(cy["host"], cy["imap_port"], ssl=False, timeout=30)
    if as_user is None:
        client.plain_login(cy["admin"], conf["password"])
    else:
        client.plain_login(cy["admin"], conf["password"], authorization_identity=as_user)
    return client


@pytest.fixture(scope="module")
def user(servers: dict):
    """A fresh Cyrus user (user/<name>) that exists for this module only."""
    name = "sbx" + secrets.token_hex(4)
    admin = imap(servers)
    admin.create_folder(f"user/{name}")
    admin.logout()
    yield name
    admin = imap(servers)
    admin.setacl(f"user/{name}", servers["cyrus"]["admin"], "lrswipkxtecda")
    admin.delete_folder(f"user/{name}")
    admin.logout()


@pytest.fixture(scope="module")
def routing(servers: dict):
    """A connection to routing.sqlite; rows of test domains are removed afterwards."""
    db = sqlite3.connect(servers["postfix"]["routing_db"], isolation_level=None)
    domains: list[str] = []
    yield db, domains
    for domain in domains:
        db.execute("DELETE FROM domains WHERE domain = ?", (domain,))
        db.execute("DELETE FROM transport WHERE domain = ?", (domain,))
        db.execute("DELETE FROM old_mailbox WHERE address LIKE ?", (f"%@{domain}",))
        db.execute("DELETE FROM virtual_alias WHERE address LIKE ?", (f"%@{domain}",))
    db.close()


def route(routing, domain: str, transport: str) -> None:
    """Point a domain at a transport, as the cutover does."""
    db, domains = routing
    if domain not in domains:
        domains.append(domain)
    db.execute("INSERT OR IGNORE INTO domains(domain) VALUES (?)", (domain,))
    db.execute("INSERT INTO transport(domain, transport) VALUES (?, ?) "
               "ON CONFLICT(domain) DO UPDATE SET transport = excluded.transport",
               (domain, transport))


def send(conf: dict, rcpt: str, subject: str, body: str = "Hello.\r\n") -> None:
    """Submit one message to the sandbox Postfix over SMTP."""
    msg = (f"From: tester@sender.example\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{secrets.token_hex(8)}@sender.example>\r\n\r\n{body}")
    pf = conf["postfix"]
    with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
        refused = smtp.sendmail("tester@sender.example", [rcpt], msg.encode())
    assert refused == {}


def wait_in_folder(conf: dict, user: str, folder: str, subject: str) -> int:
    """Wait until a message with this subject is in the user's folder; return how many."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        client = imap(conf, as_user=user)
        try:
            client.select_folder(folder, readonly=True)
            found = client.search(["SUBJECT", subject])
        finally:
            client.logout()
        if found or time.monotonic() > deadline:
            return len(found)
        time.sleep(0.3)


def wait_for(predicate, timeout: float = DELIVERY_TIMEOUT) -> bool:
    """Poll a condition until it holds or the time is up."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def old_spool():
    """An existing mbox spool in a root-owned directory, as on the old host.

    The file is root:mail 0660: the oldsite service appends as group mail.
    """
    base = Path("/var/tmp") / f"mailmigrate-oldsite-{secrets.token_hex(4)}"
    spool_dir = base / "var" / "mail"
    spool_dir.mkdir(parents=True)
    for part in (base, base / "var", spool_dir):
        part.chmod(0o755)
    spool = spool_dir / "alice"
    first = ("From someone@old.example  Mon Jan  6 10:00:00 2020\n"
             "From: someone@old.example\nSubject: already here\n\nold body\n\n")
    spool.write_text(first)
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid)
    spool.chmod(0o660)
    yield spool, first
    shutil.rmtree(base)


def test_start_again_is_a_no_op(servers: dict) -> None:
    proc = sandbox_cli("start")
    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout
    status = sandbox_cli("status", "--json")
    assert status.returncode == 0
    state = json.loads(status.stdout)
    assert state["cyrus"]["running"] and state["postfix"]["running"]
    assert all(p["answers"] for p in state["ports"].values())
    assert servers["cyrus"]["lmtp_transport"] == "lmtp:inet:127.0.0.1:12024"
    assert servers["postfix"]["old_transport"] == "oldsite:"
    assert Path(servers["cyrus"]["password_file"]).stat().st_mode & 0o777 == 0o600


def test_second_sandbox_is_refused_naming_the_port(servers: dict) -> None:
    other = Path("/var/tmp") / f"mailmigrate-other-{secrets.token_hex(4)}"
    proc = sandbox_cli("start", "--dir", str(other))
    assert proc.returncode == 1
    assert f"{servers['cyrus']['host']}:{servers['cyrus']['imap_port']}" in proc.stderr
    assert "master" in proc.stderr
    assert not other.exists()


def test_unreachable_directory_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    proc = sandbox_cli("start", "--dir", str(tmp_path / "sandbox"))
    assert proc.returncode == 1
    assert str(tmp_path) in proc.stderr and "not searchable" in proc.stderr


def test_admin_acts_as_user_over_imap(servers: dict, user: str) -> None:
    client = imap(servers, as_user=user)
    folders = [name for _flags, _sep, name in client.list_folders()]
    assert folders == ["INBOX"]
    client.create_folder("INBOX/proxied")
    client.append("INBOX", b"From: a@b.example\r\nSubject: appended as user\r\n\r\nx\r\n")
    client.logout()
    admin = imap(servers)
    names = [name for _flags, _sep, name in admin.list_folders("", f"user/{user}")]
    names += [name for _flags, _sep, name in admin.list_folders("", f"user/{user}/*")]
    admin.logout()
    assert sorted(names) == [f"user/{user}", f"user/{user}/proxied"]
    assert wait_in_folder(servers, user, "INBOX", "appended as user") == 1


def test_wrong_password_is_refused(servers: dict, user: str) -> None:
    cy = servers["cyrus"]
    client = IMAPClient(cy["host"], cy["imap_port"], ssl=False, timeout=30)
    with pytest.raises(LoginError):
        client.plain_login(cy["admin"], "not-" + servers["password"],
                           authorization_identity=user)


def test_managesieve_upload_and_activate_as_user(servers: dict, user: str, routing) -> None:
    cy = servers["cyrus"]
    client = SieveClient(cy["host"], cy["sieve_port"])
    assert client.connect(cy["admin"], servers["password"], authz_id=user, authmech="PLAIN")
    caps = client.get_sieve_capabilities()
    for ext in ("fileinto", "reject", "vacation", "imap4flags", "regex", "variables",
                "editheader", "mailbox", "body", "envelope", "subaddress", "copy", "include",
                "date", "index", "relational", "notify"):
        assert ext in caps
    script = ('require ["fileinto", "mailbox", "copy"];\n'
              'if header :contains "subject" "[sbx-list]" {\n'
              '  fileinto :create "INBOX/lists";\n  stop;\n}\n'
              'if header :contains "subject" "[sbx-fwd]" {\n'
              '  redirect :copy "elsewhere@remote.example";\n}\n')
    assert client.putscript("migrated", script), client.errmsg
    assert client.setactive("migrated"), client.errmsg
    active, _others = client.listscripts()
    client.logout()
    assert active == "migrated"

    domain = f"d{secrets.token_hex(4)}.example"
    route(routing, domain, cy["lmtp_transport"])
    send(servers, f"{user}@{domain}", "[sbx-list] filed by sieve")
    assert wait_in_folder(servers, user, "INBOX/lists", "[sbx-list] filed by sieve") == 1

    outbox = Path(cy["outbox"])
    before = set(outbox.glob("*.msg"))
    send(servers, f"{user}@{domain}", "[sbx-fwd] redirected copy")
    assert wait_in_folder(servers, user, "INBOX", "[sbx-fwd] redirected copy") == 1
    assert wait_for(lambda: set(outbox.glob("*.msg")) - before)
    recorded = [p for p in set(outbox.glob("*.msg")) - before
                if b"[sbx-fwd] redirected copy" in p.read_bytes()]
    assert len(recorded) == 1
    head, message = recorded[0].read_bytes().split(b"\n", 1)
    assert json.loads(head)["rcpt_to"] == ["elsewhere@remote.example"]
    assert b"Subject: [sbx-fwd] redirected copy" in message


def test_smtp_to_lmtp_domain_lands_in_inbox(servers: dict, user: str, routing) -> None:
    domain = f"d{secrets.token_hex(4)}.example"
    route(routing, domain, servers["cyrus"]["lmtp_transport"])
    send(servers, f"{user}@{domain}", "via lmtp")
    send(servers, f"{user}+detail@{domain}", "via lmtp with detail")
    assert wait_in_folder(servers, user, "INBOX", "via lmtp") == 2


def read_until_grows(path: Path, size: int) -> str:
    """The spool's text once it has grown past size (or as it is at the timeout)."""
    wait_for(lambda: path.stat().st_size > size)
    return path.read_text()


def test_oldsite_appends_to_mbox_and_row_change_reroutes(
        servers: dict, user: str, routing, old_spool) -> None:
    spool, first = old_spool
    db, _ = routing
    domain = f"d{secrets.token_hex(4)}.example"
    route(routing, domain, servers["postfix"]["old_transport"])
    db.execute("INSERT INTO old_mailbox(address, path) VALUES (?, ?)",
               (f"{user}@{domain}", str(spool)))

    send(servers, f"{user}@{domain}", "to the old host", "From the start of a line\r\n")
    text = read_until_grows(spool, len(first))
    assert text.startswith(first)
    appended = text[len(first):]
    assert appended.startswith("From tester@sender.example ")
    assert "Subject: to the old host\n" in appended
    assert "\n>From the start of a line\n" in appended
    assert "\r" not in appended

    # Cut over by changing the row alone: the next message goes to Cyrus.
    # (qmgr keeps the last resolved address for 30 s, so the probes use other
    # addresses of the domain: +detail ones, which both servers file by user.)
    route(routing, domain, servers["cyrus"]["lmtp_transport"])
    size = spool.stat().st_size
    send(servers, f"{user}+cutover@{domain}", "after the cutover")
    assert wait_in_folder(servers, user, "INBOX", "after the cutover") == 1
    assert spool.stat().st_size == size

    # And back (rollback): the old spool receives again.
    route(routing, domain, servers["postfix"]["old_transport"])
    send(servers, f"{user}+rollback@{domain}", "after the rollback")
    assert "Subject: after the rollback\n" in read_until_grows(spool, size)


def rcpt_code(conf: dict, rcpt: str) -> int:
    """The sandbox smtpd's reply code to RCPT TO (nothing is sent)."""
    pf = conf["postfix"]
    with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
        smtp.ehlo("tester.example")
        smtp.mail("tester@sender.example")
        return smtp.rcpt(rcpt)[0]


def test_routing_table_new_domain_and_alias_rows_take_effect_live(
        servers: dict, user: str, routing) -> None:
    # migrate.routing.RoutingTable, as the cutover uses it, against the running
    # Postfix: a new domain and its virtual_alias rows work without a reload.
    _, domains = routing
    domain = f"d{secrets.token_hex(4)}.example"
    domains.append(domain)
    lmtp = servers["cyrus"]["lmtp_transport"]
    assert rcpt_code(servers, f"sales@{domain}") == 550      # not a domain of ours yet
    table = RoutingTable(servers["postfix"]["routing_db"])
    table.publish_domain(domain, lmtp, [(f"sales@{domain}", f"{user}@{domain}")])
    assert rcpt_code(servers, f"sales@{domain}") == 250
    # Cyrus has no user/sales: only the alias row gets this into the user's INBOX
    send(servers, f"sales@{domain}", "through a new alias row")
    assert wait_in_folder(servers, user, "INBOX", "through a new alias row") == 1
    table.publish_domain(domain, lmtp, [(f"sales@{domain}", f"{user}@{domain}"),
                                        (f"Billing@{domain}", f"{user}@{domain}")])
    send(servers, f"billing@{domain}", "through a second alias row")
    assert wait_in_folder(servers, user, "INBOX", "through a second alias row") == 1


def test_stop_then_start_again(servers: dict) -> None:
    cy, pf = servers["cyrus"], servers["postfix"]
    stopped = sandbox_cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    status = sandbox_cli("status", "--json")
    assert status.returncode == 3
    state = json.loads(status.stdout)
    assert not state["cyrus"]["running"] and not state["postfix"]["running"]
    assert not any(p["answers"] for p in state["ports"].values())
    again = sandbox_cli("stop")
    assert again.returncode == 0 and "not running" in again.stdout
    started = sandbox_cli("start")
    assert started.returncode == 0, started.stderr
    client = IMAPClient(cy["host"], cy["imap_port"], ssl=False, timeout=30)
    client.plain_login(cy["admin"], servers["password"])
    client.logout()
    with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
        assert smtp.noop()[0] == 250
