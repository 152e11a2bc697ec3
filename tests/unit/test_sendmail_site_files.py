"""Which old files read_site reads, and what it says about files it cannot read.

sendmail reads every file of ALIAS_FILE (the first file naming an alias
wins: checked with sendmail 8.17 -bv, and again by the address check in
tests/integration/test_address_check_sites.py); a file that is missing, a
directory, a link to nothing or only its compiled .db is an error finding
naming the file, never a silent empty table.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checks.addresses import addresses_to_check
from converters.postfix import translate
from converters.sendmail import home_domains, read_site, resolve

MC = ("FEATURE(`use_cw_file')dnl\nFEATURE(`virtusertable')dnl\n"
      "define(`confDOMAIN_NAME', `mail.l.example')dnl\n")
PASSWD = ("alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n"
          "carol:x:1002:1002::/home/carol:/bin/bash\n")


def old_site(root: Path, *, mc: str = MC, passwd: str | None = PASSWD,
             **files: str | bytes) -> Path:
    """An old tree: etc/mail with sendmail.mc, local-host-names, virtusertable, ``files``."""
    etc = root / "etc" / "mail"
    etc.mkdir(parents=True)
    (etc / "sendmail.mc").write_text(mc)
    (etc / "local-host-names").write_text("l.example\n")
    (etc / "virtusertable").write_text("")
    for name, content in files.items():
        path = etc / name.replace("_", ".")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if passwd is not None:
        (root / "etc" / "passwd").write_text(passwd)
    return root


def by_code(site, code: str) -> list:
    return [f for f in site.findings if f.code == code]


def test_every_alias_file_is_read_and_the_first_file_wins(tmp_path: Path) -> None:
    mc = MC + "define(`ALIAS_FILE', `/etc/mail/aliases,hash:/etc/mail/aliases.lists')dnl\n"
    site = read_site(old_site(tmp_path, mc=mc, aliases="root: alice\n",
                              aliases_lists="projects: alice, bob\nroot: carol\n"))
    assert resolve(site, "projects@l.example").mailboxes() == {"alice", "bob"}
    assert resolve(site, "root@l.example").mailboxes() == {"alice"}
    [dup] = by_code(site, "SM029")
    assert (dup.where(), dup.subject) == ("/etc/mail/aliases.lists:2", "root")


def test_alias_file_that_is_no_local_file_names_the_mc_line(tmp_path: Path) -> None:
    mc = MC + "define(`ALIAS_FILE', `/etc/mail/aliases,nis:mail.aliases')dnl\n"
    site = read_site(old_site(tmp_path, mc=mc, aliases="root: alice\n"))
    [f] = by_code(site, "SM061")
    assert (f.severity, f.where(), f.subject) == ("error", "/etc/mail/sendmail.mc:4",
                                                  "nis:mail.aliases")
    assert resolve(site, "root@l.example").mailboxes() == {"alice"}


def _directory(etc: Path) -> None:
    (etc / "aliases").mkdir()


def _only_db(etc: Path) -> None:
    (etc / "aliases.db").write_bytes(b"\0" * 64)


def _dangling(etc: Path) -> None:
    (etc / "aliases").symlink_to("/etc/aliases")


@pytest.mark.parametrize(("make", "problem"), [
    (lambda etc: None, "is missing"),
    (_directory, "is a directory"),
    (_only_db, "is missing; only the compiled aliases.db is there"),
    (_dangling, "is a symbolic link to /etc/aliases, which is not in the old tree"),
])
def test_unusable_alias_file_is_an_error_naming_it(tmp_path: Path, make, problem: str) -> None:
    root = old_site(tmp_path)
    make(root / "etc" / "mail")
    [f] = by_code(read_site(root), "SM087")
    assert (f.severity, f.file) == ("error", "/etc/mail/aliases")
    assert f"/etc/mail/aliases {problem};" in f.reason


def test_absolute_link_is_followed_inside_the_old_tree(tmp_path: Path) -> None:
    """Debian's /etc/mail/aliases -> /etc/aliases: the old host's file, not this machine's."""
    root = old_site(tmp_path)
    (root / "etc" / "aliases").write_text("team: bob\n")
    (root / "etc" / "mail" / "aliases").symlink_to("/etc/aliases")
    site = read_site(root)
    assert by_code(site, "SM087") == []
    assert [a.name for a in site.aliases] == ["team"]


def test_missing_passwd_is_an_error(tmp_path: Path) -> None:
    site = read_site(old_site(tmp_path, passwd=None, aliases="team: bob\n"))
    [f] = by_code(site, "SM088")
    assert (f.severity, f.file) == ("error", "/etc/passwd")
    assert "/etc/passwd is missing" in f.reason


@pytest.mark.parametrize(("make", "problem"), [
    (lambda p: os.remove(p), "is missing"),
    (lambda p: (os.remove(p), os.mkdir(p)), "is a directory"),
])
def test_unusable_table_is_an_error_naming_it(tmp_path: Path, make, problem: str) -> None:
    root = old_site(tmp_path, aliases="")
    make(root / "etc" / "mail" / "virtusertable")
    [f] = by_code(read_site(root), "SM080")
    assert (f.severity, f.file) == ("error", "/etc/mail/virtusertable")
    assert f.reason.endswith(f"/etc/mail/virtusertable {problem}")


def test_alias_name_that_is_not_ascii(tmp_path: Path) -> None:
    """Latin-1 bytes in a name: reported at its line, no address written or probed,
    and a list naming it still reaches its members."""
    root = old_site(tmp_path, aliases=b"team: jos\xe9\njos\xe9: alice\n",
                    virtusertable=b"caf\xe9@l.example bob\n")
    site = read_site(root)
    [f] = by_code(site, "SM028")
    assert (f.where(), f.subject) == ("/etc/mail/aliases:2", "jos\xe9")
    [v] = by_code(site, "SM034")
    assert v.where() == "/etc/mail/virtusertable:1"
    assert resolve(site, "team@l.example").mailboxes() == {"alice"}
    pf = translate(site, home_domain=home_domains(site)[0])
    assert all(a.isascii() for a, _ in pf.virtual_alias)
    assert dict(pf.virtual_alias)["team@l.example"] == "alice@l.example"
    assert all(a.isascii() for a in addresses_to_check(site, ["l.example"]))
