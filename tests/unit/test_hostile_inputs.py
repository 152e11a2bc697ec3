"""Bad and hostile old-site input: every reader gives a result plus findings, or exit 2.

Each test is one kind of input a real site can hold (a loop, a link, a
FIFO, binary junk) with the value a correct reader must give.  ``deadline``
turns a hang into a failure instead of a stuck test run; it asserts nothing
about speed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from converters.finding import NEEDS_PERSON, Finding
from converters.folders import FolderMapping
from converters.sendmail import mail_domains, read_site, resolve
from migrate.cli import main
from migrate.inventory import FoundMailbox, find_mailboxes


@contextmanager
def deadline(seconds: int = 60) -> Iterator[None]:
    """Fail (rather than hang) when the block does not finish at all."""
    def expired(*_: object) -> None:
        raise AssertionError(f"did not finish within {seconds} s: endless loop?")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def small_site(root: Path, aliases: str = "") -> Path:
    """An old tree with two users in example.org and the given aliases."""
    etc = root / "etc" / "mail"
    etc.mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "alice:x:1001:1001::/home/alice:/bin/bash\nbob:x:1002:1002::/home/bob:/bin/bash\n")
    (etc / "sendmail.mc").write_text("FEATURE(`use_cw_file')dnl\n")
    (etc / "local-host-names").write_text("example.org\n")
    (etc / "aliases").write_text(aliases)
    for user in ("alice", "bob"):
        (root / "home" / user / "mail").mkdir(parents=True)
    (root / "var" / "mail").mkdir(parents=True)
    return root


# --- Sendmail tables --------------------------------------------------------


def test_include_file_that_includes_itself_ends(tmp_path: Path):
    root = small_site(tmp_path, "selfinc: :include:/etc/mail/self\n")
    (root / "etc/mail/self").write_text(":include:/etc/mail/self\nalice\n")
    with deadline():
        site = read_site(root)
        domains = mail_domains(site)
    assert resolve(site, "selfinc").mailboxes() == {"alice"}
    assert [d.users for d in domains if d.name == "example.org"] == [("alice", "bob")]


def test_lists_naming_each_other_in_a_diamond_are_expanded_once(tmp_path: Path):
    # d0 -> d1, e1; e0 -> d1, e1; ... : 2**depth paths without duplicate suppression.
    depth = 23
    lines = [f"d{i}: d{i + 1}, e{i + 1}\ne{i}: d{i + 1}, e{i + 1}\n" for i in range(depth)]
    root = small_site(tmp_path, "".join(lines) + f"d{depth}: alice\ne{depth}: bob\n")
    with deadline():
        site = read_site(root)
        mail_domains(site)
        assert resolve(site, "d0").mailboxes() == {"alice", "bob"}


def test_alias_loop_is_a_loop_not_a_mailbox(tmp_path: Path):
    root = small_site(tmp_path, "loopa: loopb\nloopb: loopa\n")
    site = read_site(root)
    kinds = {d.kind for d in resolve(site, "loopa").deliveries}
    assert kinds == {"loop"}


BIG_ALIAS = """
import sys
from pathlib import Path
from converters.sendmail import mail_domains, read_site, resolve
site = read_site(Path(sys.argv[1]))
mail_domains(site)
res = resolve(site, "big")
print(sorted(res.mailboxes()), sum(d.kind == "unknown" for d in res.deliveries))
"""


def test_alias_with_half_a_million_members(tmp_path: Path):
    # In a child process: the site's objects would otherwise stay in this
    # process's peak RSS, which children forked later inherit (test_mbox_memory).
    members = ",".join(f"x{i}" for i in range(500_000))
    root = small_site(tmp_path, f"big: alice, {members}\n")
    with deadline(120):
        out = subprocess.run([sys.executable, "-c", BIG_ALIAS, str(root)], check=True,
                             capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.split() == ["['alice']", "500000"]


# --- Mailbox discovery ------------------------------------------------------

MBOX = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n"


def discover(root: Path, user: str = "alice") -> tuple[dict[str, str], dict[str, str]]:
    """(source -> folder, source -> finding code) of one user's mailboxes."""
    boxes: dict[str, str] = {}
    codes: dict[str, str] = {}
    with deadline():
        for found in find_mailboxes(root, user, f"/home/{user}", FolderMapping()):
            if isinstance(found, FoundMailbox):
                boxes[found.source] = found.folder
            else:
                assert isinstance(found, Finding)
                codes[found.file] = found.code
    return boxes, codes


def test_links_in_the_folder_tree_are_reported_not_followed(tmp_path: Path):
    root = small_site(tmp_path)
    mail = root / "home/alice/mail"
    (mail / "real").write_bytes(MBOX)
    os.symlink(".", mail / "loop")            # its own directory: an endless walk
    os.symlink("/", mail / "root")            # the whole of this machine
    os.symlink("/nonexistent", mail / "gone")  # dangling
    os.symlink("real", mail / "alias")        # the same mail a second time
    os.symlink("/var/mail/alice", root / "home/alice/mbox")
    boxes, codes = discover(root)
    assert boxes == {"/home/alice/mail/real": "INBOX/real"}
    assert codes == {f"/home/alice/{p}": "INV005"
                     for p in ("mail/loop", "mail/root", "mail/gone", "mail/alias", "mbox")}


def test_special_files_where_mail_could_be_are_reported(tmp_path: Path):
    root = small_site(tmp_path)
    os.mkfifo(root / "var/mail/alice")
    os.mkfifo(root / "home/alice/mail/fifo")
    os.mkfifo(root / "var/mail/alice.Spam")
    boxes, codes = discover(root)
    assert boxes == {}
    assert codes == {"/var/mail/alice": "INV006", "/home/alice/mail/fifo": "INV006",
                     "/var/mail/alice.Spam": "INV006"}


def test_spool_that_is_a_directory(tmp_path: Path):
    root = small_site(tmp_path)
    (root / "var/mail/alice").mkdir()
    (root / "var/mail/alice/stray").write_bytes(MBOX)
    for sub in ("cur", "new", "tmp"):
        (root / "var/mail/bob" / sub).mkdir(parents=True)
    assert discover(root) == ({}, {"/var/mail/alice": "INV006"})
    assert discover(root, "bob") == ({"/var/mail/bob": "INBOX"}, {})


# --- Configuration and command line -----------------------------------------


@pytest.mark.parametrize(("toml", "message"), [
    ('[site]\nroot = 5\n', "[site] root must be a string, not int 5"),
    ('site = "x"\n', "[site] must be a table"),
    ('[site]\nroot = "r"\n[cyrus]\nimap_port = "143"\n',
     "[cyrus] imap_port must be a whole number, not str '143'"),
    ('[site]\nroot = "r"\n[cyrus]\nstarttls = "yes"\n',
     "[cyrus] starttls must be true or false, not str 'yes'"),
    ('[site]\nroot = "r"\n[cyrus]\nbatch_messages = 0\n',
     "[cyrus] batch_messages must be at least 1, not 0"),
    ('[site]\nroot = "r"\n[cyrus]\nconnections = true\n',
     "[cyrus] connections must be a whole number, not bool True"),
    ('[site]\nroot = "r"\n[tracker]\ndb = 5\n', "[tracker] db must be a string, not int 5"),
    ('[site]\nroot = "r"\n[home_domains]\nalice = ["a"]\n',
     "[home_domains] alice must be a string, not list ['a']"),
    ('[site]\nroot = "r"\n[folders]\nprefix = 7\n', "[folders] prefix must be a string"),
])
def test_config_value_of_the_wrong_type(tmp_path: Path, capsys, toml: str, message: str):
    cfg = tmp_path / "m.toml"
    cfg.write_text(toml)
    assert main(["--config", str(cfg), "status"]) == 2
    err = capsys.readouterr().err
    # the value is on the last line of each file: the message names it
    assert f"{cfg}:{toml.count(chr(10))}: {message}" in err and "Traceback" not in err


def test_config_that_is_not_utf8(tmp_path: Path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_bytes(b'[site]\nroot = "\xe9t\xe9"\n')
    assert main(["--config", str(cfg), "status"]) == 2
    assert f"{cfg}:2: not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize(("url", "shown"), [
    ("garbage", "an unparsable URL"),
    ("nosuchdialect://h/db", "nosuchdialect://h/db"),
    ("mysql://u:sekrit@h/db", "mysql://u:***@h/db"),   # driver not installed here
])
def test_unusable_tracker_url(tmp_path: Path, capsys, url: str, shown: str):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[site]\nroot = "r"\n')
    assert main(["--config", str(cfg), "--db", url, "status"]) == 2
    err = capsys.readouterr().err
    assert f"tracker URL: cannot use {shown}" in err and "sekrit" not in err


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path):
    # A FIFO as the config file holds the command at a known point (reading
    # it) until the test has sent SIGINT: no sleeping, no race.
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-c", "from migrate.cli import main; "
                             "raise SystemExit(main())", "--config", str(fifo), "status"],
                            stderr=subprocess.PIPE, text=True)
    with deadline(), open(fifo, "w"):
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
    assert proc.returncode == 130
    assert err.strip() == "mailmigrate: interrupted; run 'mailmigrate status' again to go on"


# --- procmail and the site-level convert / report ---------------------------


def site_config(root: Path) -> Path:
    """A config for ``root`` with the tracker and output beside it (no servers needed)."""
    cfg = root.parent / "m.toml"
    cfg.write_text(f'[site]\nroot = "{root}"\n[tracker]\ndb = "sqlite:///{root.parent}/t.db"\n'
                   f'[output]\ndir = "{root.parent}/out"\n')
    return cfg


def test_blocks_nested_hundreds_deep_are_exit_2(tmp_path: Path, capsys):
    rc = tmp_path / "deep.rc"
    rc.write_text(":0\n* a\n{\n" * 500 + ":0\nx\n" + "}\n" * 500)
    assert main(["convert", "procmail", str(rc)]) == 2
    err = capsys.readouterr().err
    assert f"{rc}: blocks nested too deeply" in err and "Traceback" not in err


def test_one_unusable_procmailrc_does_not_stop_the_site(tmp_path: Path, capsys):
    root = small_site(tmp_path / "site")
    (root / "etc/mail/sendmail.mc").write_text(
        "FEATURE(`use_cw_file')dnl\nFEATURE(`local_procmail')dnl\n")
    (root / "home/alice/.procmailrc").write_bytes(b":0\n* ^Subject: a\0b\nspam\n")
    (root / "home/bob/.procmailrc").write_text(":0:\n* ^Subject: chess\nchess\n")
    cfg = site_config(root)
    assert main(["--config", str(cfg), "inventory"]) == 0
    assert main(["--config", str(cfg), "convert"]) == 0
    out = tmp_path / "out/sieve"
    assert (out / "alice.sieve").read_text().endswith("\nkeep;\n")
    assert "Subject" in (out / "bob.sieve").read_text()
    capsys.readouterr()
    assert main(["--config", str(cfg), "--json", "report"]) == 3
    rep = json.loads(capsys.readouterr().out)
    users = {u["name"]: u for d in rep["domains"] for u in d["users"]}
    assert [(f["code"], f["severity"], f["file"]) for f in users["alice"]["findings"]] == [
        ("procmail-unusable", "error", "/home/alice/.procmailrc")]
    assert "procmail-unusable" not in {f["code"] for f in users["bob"]["findings"]}


def test_convert_and_report_before_inventory_are_refused(tmp_path: Path, capsys):
    cfg = site_config(small_site(tmp_path / "site"))
    assert main(["--config", str(cfg), "report"]) == 2
    assert main(["--config", str(cfg), "convert"]) == 2
    err = capsys.readouterr().err
    assert err.count("nothing inventoried yet: run 'mailmigrate inventory'") == 2


def test_report_before_convert_needs_a_person(tmp_path: Path, capsys):
    cfg = site_config(small_site(tmp_path / "site"))
    assert main(["--config", str(cfg), "inventory"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "report"]) == 3
    assert capsys.readouterr().out.count("not converted yet: run 'mailmigrate convert'") == 2
    assert main(["--config", str(cfg), "--json", "report"]) == 3
    rep = json.loads(capsys.readouterr().out)
    site = sum(f["severity"] in NEEDS_PERSON for f in rep["site_findings"])
    assert rep["needs_person"] == site + 2


def test_alias_chain_longer_than_sendmail_follows_does_not_crash(tmp_path: Path):
    # sendmail stops aliasing after a few dozen levels; a 5000-long chain must not
    # exhaust Python's stack while counting the addresses that reach a mailbox
    chain = "".join(f"a{i}: a{i + 1}\n" for i in range(5000)) + "a5000: alice\n"
    root = small_site(tmp_path / "site", chain)
    cfg = site_config(root)
    with deadline():
        assert main(["--config", str(cfg), "inventory"]) == 0
        assert main(["--config", str(cfg), "convert"]) == 0


def test_forward_with_an_open_quote_and_deep_parentheses_are_reported(tmp_path: Path,
                                                                     capsys):
    root = small_site(tmp_path / "site")
    (root / "home/alice/.forward").write_text("|/usr/bin/procmail -a 'x\n")
    (root / "home/alice/.procmailrc").write_text(
        ":0\n* ^Subject: " + "(" * 1000 + "a" + ")" * 1000 + "\nx\n:0\n* ^Subject: b\nb\n")
    cfg = site_config(root)
    assert main(["--config", str(cfg), "inventory"]) == 0
    assert main(["--config", str(cfg), "convert"]) == 0
    sieve = (tmp_path / "out/sieve/alice.sieve").read_text()
    assert 'fileinto "INBOX/b";' in sieve
    capsys.readouterr()
    assert main(["--config", str(cfg), "--json", "report"]) == 3
    rep = json.loads(capsys.readouterr().out)
    users = {u["name"]: u for d in rep["domains"] for u in d["users"]}
    assert any(f["line"] == 1 and "nests too deeply" in f["reason"]
               for f in users["alice"]["findings"])


def test_every_recorded_finding_is_in_the_report(tmp_path: Path, capsys):
    # findings about aliases or table lines name no account; they were stored under
    # the alias's name and left out of the report (and of its exit status)
    root = small_site(tmp_path / "site", "webmaster: alice\nwebmaster: bob\n")
    (root / "etc/mail/virtusertable").write_text("lonely@example.org\n")
    cfg = site_config(root)
    assert main(["--config", str(cfg), "inventory"]) == 0
    assert main(["--config", str(cfg), "convert"]) == 0
    capsys.readouterr()
    main(["--config", str(cfg), "--json", "report"])
    rep = json.loads(capsys.readouterr().out)
    shown = [f["code"] for f in rep["site_findings"]]
    shown += [f["code"] for d in rep["domains"] for u in d["users"] for f in u["findings"]]

    with sqlite3.connect(tmp_path / "t.db") as db:
        stored = [code for (code,) in db.execute("SELECT code FROM findings")]
    assert sorted(shown) == sorted(stored)
    assert "SM023" in shown  # the duplicate alias


def test_links_out_of_the_home_are_not_read(tmp_path: Path, capsys):
    # on the old host the link named that host's file; here it would read (and quote
    # into findings) a file of the machine running the migration
    root = small_site(tmp_path / "site")
    (root / "etc/mail/sendmail.mc").write_text(
        "FEATURE(`use_cw_file')dnl\nFEATURE(`local_procmail')dnl\n")
    secret = tmp_path / "secret"
    secret.write_text("root:SECRETHASH:19000:0:99999:7:::\n")
    (root / "home/alice/.procmailrc").symlink_to(secret)
    (root / "home/bob/.procmailrc").write_text("INCLUDERC=$HOME/inc.rc\n:0\n* ^Subject: b\nb\n")
    (root / "home/bob/inc.rc").symlink_to(secret)
    cfg = site_config(root)
    assert main(["--config", str(cfg), "inventory"]) == 0
    assert main(["--config", str(cfg), "convert"]) == 0
    capsys.readouterr()
    main(["--config", str(cfg), "--json", "report"])
    out = capsys.readouterr().out
    assert "SECRETHASH" not in out
    assert "SECRETHASH" not in (tmp_path / "out/sieve/alice.sieve").read_text()
    assert "link out of the copied home" in out


def test_variables_doubling_themselves_stop_growing(tmp_path: Path, capsys):
    rc = tmp_path / "blowup.rc"
    rc.write_text("A=xxxxxxxxxx\n" + "A=$A$A$A$A\n" * 40 + ":0\n$A\n")
    with deadline(60):
        assert main(["convert", "procmail", str(rc)]) == 3
    assert len(capsys.readouterr().out) < 100_000


def test_includes_fanning_out_stop(tmp_path: Path, capsys):
    for name, nxt in (("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")):
        (tmp_path / f"{name}.rc").write_text(f"INCLUDERC=$HOME/{nxt}.rc\n" * 20)
    (tmp_path / "e.rc").write_text(":0\n* ^Subject: x\nx\n")
    with deadline(60):
        assert main(["convert", "procmail", str(tmp_path / "a.rc")]) == 3
    assert "included in all" in capsys.readouterr().err


@pytest.mark.parametrize("pattern", ["(a|a)*b", "^(a|aa)*$", "a*a*a*a*a*a*a*a*a*a*a*a*b",
                                     ".*a.*b"])
def test_patterns_that_backtrack_badly_are_not_evaluated(tmp_path: Path, capsys, pattern):
    # procmail's matcher does not backtrack; Python's would run for hours on these
    rc = tmp_path / "redos.rc"
    rc.write_text(f"FOO={'a' * 3000}!\n:0\n* FOO ?? {pattern}\nredos\n")
    with deadline(60):
        assert main(["convert", "procmail", str(rc)]) == 3
    assert "not evaluated" in capsys.readouterr().err


def test_a_list_alias_in_a_forward_is_forwarded_not_taken_for_the_user(tmp_path: Path):
    # sendmail expands staff to alice and bob: bob's copy must not be lost, while
    # a.smith reaches alice alone and is her own mailbox
    root = small_site(tmp_path / "site", "staff: alice, bob\na.smith: alice\n")
    (root / "home/alice/.forward").write_text("staff@example.org, a.smith@example.org\n")
    cfg = site_config(root)
    assert main(["--config", str(cfg), "inventory"]) == 0
    assert main(["--config", str(cfg), "convert"]) == 0
    sieve = (tmp_path / "out/sieve/alice.sieve").read_text()
    assert 'redirect :copy "staff@example.org";' in sieve
    assert 'redirect :copy "a.smith@example.org"' not in sieve
    assert "discard;" not in sieve
