"""The main job end to end on the sample site, against real Cyrus and Postfix.

One module, one migration: inventory, convert, the dry-run report, copy,
Sieve upload, mail routed to the old spool before the cutover, the cutover
to verified, mail landing in Cyrus after it, and a rollback that returns
that mail to the old spool.  The tests run in file order and each relies on
the stages before it, as an operator's session would.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from sievelib.managesieve import Client as SieveClient

from converters.mbox import read_folder, read_mbox
from tests.integration.conftest import Site, wait_for

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

DOMAIN = "example.org"


def spool_ids(path: Path) -> list[str]:
    """Message-IDs of the messages in an mbox or maildir, in order (read with our reader)."""
    out = []
    for msg in read_folder(path):
        m = re.search(rb"^Message-ID:\s*(<[^>]*>)", msg.data, re.I | re.M)
        out.append(m.group(1).decode() if m else "")
    return out


def test_inventory_finds_domains_users_and_mailboxes(sample_site: Site):
    run = sample_site.mm("inventory", "--json")
    assert run.rc == 0, run.err
    domains = run.json()["domains"]
    passwd_users = sorted(
        line.split(":")[0] for line in (sample_site.site / "etc/passwd").read_text().splitlines()
        if line.split(":")[2].isdigit() and 1000 <= int(line.split(":")[2]) < 60000
        and not line.split(":")[6].endswith("nologin"))
    assert sorted(domains[DOMAIN]) == passwd_users
    assert "example.net" in domains


def test_convert_writes_maps_and_one_script_per_user(sample_site: Site):
    run = sample_site.mm("convert", "--json")
    assert run.rc == 0, run.err
    data = run.json()
    out = Path(data["output_dir"])
    users = sample_site.mm("inventory", "--json").json()["domains"][DOMAIN]
    for user in users:
        assert (out / "sieve" / f"{user}.sieve").read_text().startswith(("#", "require"))
    assert "virtual" in data["postfix_files"]
    assert data["recipes"]["translated"] < data["recipes"]["total"]


def test_report_names_the_untranslatable_pipe_rule(sample_site: Site):
    run = sample_site.mm("report", "--domain", DOMAIN, "--json")
    assert run.rc == 3, run.err
    rep = run.json()
    rc_lines = (sample_site.site / "home/erin/.procmailrc").read_text().splitlines()
    pipe_line = next(i for i, t in enumerate(rc_lines, 1) if "archive.pl" in t)
    erin = next(u for d in rep["domains"] for u in d["users"] if u["name"] == "erin")
    hits = [f for f in erin["findings"] if f["file"] == "/home/erin/.procmailrc"
            and f["severity"] == "warning" and f["line"] is not None
            and f["line"] <= pipe_line <= f["line"] + f["text"].count("\n") + 1]
    assert hits, erin["findings"]
    assert "archive.pl" in hits[0]["text"]
    assert hits[0]["suggestion"]
    text = sample_site.mm("report", "--domain", DOMAIN)
    assert text.rc == 3 and "/home/erin/.procmailrc:" in text.out


def test_copy_puts_every_message_in_its_folder_with_flags_and_dates(sample_site: Site):
    run = sample_site.mm("copy", "--domain", DOMAIN, "--json")
    assert run.rc == 0, run.err
    boxes = run.json()["mailboxes"]
    assert boxes and all(b["complete"] for b in boxes)
    for b in boxes:
        source = sample_site.site / b["source"].lstrip("/")
        expected = list(read_folder(source))
        client = sample_site.imap(b["user"])
        try:
            client.select_folder(b["folder"], readonly=True)
            uids = client.search("ALL")
            got = client.fetch(uids, ["DIGEST.SHA1", "FLAGS", "INTERNALDATE"]) if uids else {}
        finally:
            client.logout()
        assert len(got) == len(expected), b
        by_digest = {d[b"DIGEST.SHA1"].decode(): d for d in got.values()}
        assert Counter(m.sha1 for m in expected) == Counter(
            d[b"DIGEST.SHA1"].decode() for d in got.values())
        for m in expected:
            d = by_digest[m.sha1]
            flags = {f.decode() for f in d[b"FLAGS"]} - {"\\Recent"}
            assert flags == set(m.flags), (b["source"], m.line)
            assert d[b"INTERNALDATE"].timestamp() == m.internaldate.timestamp()


def test_seen_belongs_to_the_user_not_the_admin(sample_site: Site):
    spool = sample_site.site / "var/mail/alice"
    seen = [m for m in read_mbox(spool) if "\\Seen" in m.flags]
    assert seen
    admin = sample_site.imap()
    admin_name = sample_site.servers["cyrus"]["admin"]
    try:
        admin.setacl("user/alice", admin_name, "lrs")
        admin.select_folder("user/alice", readonly=True)
        flags = admin.fetch(admin.search("ALL"), ["FLAGS", "DIGEST.SHA1"])
        admin._imap.deleteacl("user/alice", admin_name)  # imapclient has no DELETEACL
    finally:
        admin.logout()
    admin_seen = {d[b"DIGEST.SHA1"].decode() for d in flags.values()
                  if b"\\Seen" in d[b"FLAGS"]}
    assert not admin_seen & {m.sha1 for m in seen}


def test_copy_again_appends_nothing(sample_site: Site):
    run = sample_site.mm("copy", "--domain", DOMAIN, "--json")
    assert run.rc == 0, run.err
    boxes = run.json()["mailboxes"]
    assert sum(b["appended"] + b["reconciled"] for b in boxes) == 0
    assert all(b["already"] == b["source_messages"] for b in boxes)


def test_sieve_scripts_are_active(sample_site: Site):
    run = sample_site.mm("sieve", "--domain", DOMAIN, "--json")
    assert run.rc == 0, run.err
    cy = sample_site.servers["cyrus"]
    pw = Path(cy["password_file"]).read_text().strip()
    out = Path(sample_site.root / "out" / "sieve")
    for row in run.json():
        ms = SieveClient(cy["host"], cy["sieve_port"])
        assert ms.connect(cy["admin"], pw, authz_id=row["user"], authmech="PLAIN")
        try:
            active, _others = ms.listscripts()
            assert active == "mailmigrate"
            live = ms.getscript("mailmigrate")
        finally:
            ms.logout()
        generated = (out / f"{row['user']}.sieve").read_text()
        body = [ln for ln in generated.splitlines() if ln.strip()]
        assert all(ln in live.splitlines() for ln in body)


def test_before_cutover_mail_goes_to_the_old_spool(sample_site: Site):
    run = sample_site.mm("cutover", DOMAIN, "--to", "prestaged", "--json")
    assert run.rc == 0, run.out + run.err
    assert run.json()[-1]["to_state"] == "prestaged"
    msgid = sample_site.send(f"grace@{DOMAIN}", "before cutover")
    spool = sample_site.site / "var/mail/grace"
    wait_for(lambda: msgid in spool_ids(spool))


def test_cutover_reaches_verified(sample_site: Site):
    run = sample_site.mm("cutover", DOMAIN, "--json")
    assert run.rc == 0, run.out + run.err
    steps = [s["to_state"] for s in run.json()]
    assert steps == ["frozen", "delta", "switched", "verified"]
    status = {r["domain"]: r for r in sample_site.mm("status", "--json").json()}
    assert status[DOMAIN]["state"] == "verified"
    assert status[DOMAIN]["transport"] == sample_site.servers["cyrus"]["lmtp_transport"]
    # the message that reached the old spool before the freeze was taken by the delta pass
    assert status[DOMAIN]["copied_messages"] == status[DOMAIN]["source_messages"]


def _in_cyrus(site: Site, user: str, msgid: str) -> str | None:
    client = site.imap(user)
    try:
        for _f, _s, name in client.list_folders():
            client.select_folder(name, readonly=True)
            if client.search(["HEADER", "Message-ID", msgid]):
                return name
    finally:
        client.logout()
    return None


def test_rollback_returns_mail_delivered_after_the_switch(sample_site: Site):
    msgid = sample_site.send(f"grace@{DOMAIN}", "after switch")
    assert wait_for(lambda: _in_cyrus(sample_site, "grace", msgid)) == "INBOX"
    # alice's filter puts cron mail in a folder that was a maildir on the old host
    cron = sample_site.send(f"alice@{DOMAIN}", "Cron <root@mx> nightly backup",
                            sender="Cron Daemon <root@mx.example.org>")
    assert wait_for(lambda: _in_cyrus(sample_site, "alice", cron)) == "INBOX/cron"
    spool = sample_site.site / "var/mail/grace"
    assert msgid not in spool_ids(spool)

    run = sample_site.mm("rollback", DOMAIN, "--json")
    assert run.rc == 0, run.out + run.err
    assert spool_ids(spool).count(msgid) == 1
    assert spool_ids(sample_site.site / "home/alice/mail/cron").count(cron) == 1
    status = {r["domain"]: r for r in sample_site.mm("status", "--json").json()}
    assert status[DOMAIN]["state"] == "rolled_back"
    assert status[DOMAIN]["transport"] == sample_site.servers["postfix"]["old_transport"]

    again = sample_site.mm("rollback", DOMAIN, "--json")
    assert again.rc == 0 and again.json() == []
    assert spool_ids(spool).count(msgid) == 1

    later = sample_site.send(f"grace+later@{DOMAIN}", "after rollback")
    wait_for(lambda: later in spool_ids(spool))
