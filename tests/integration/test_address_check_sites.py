"""Address parity on variants of the sample site: real sendmail 8.17 against real Postfix.

Each test copies samples/site, changes the old tables the way a site might
have them, and asks both servers (``check_addresses``: the sendmail oracle
on the old tables, a private Postfix on the translation).  The expected
answers are what the real sendmail says; Postfix must say the same on
every path mail takes (outside client, trusted client, local submission).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from checks import sendmail_oracle
from checks.addresses import AddressReport, Row, check_addresses
from converters.postfix import PostfixTranslation, translate
from converters.postfix.rejections import REJECT_DOMAIN
from converters.sendmail import SendmailSite, home_domains, read_site

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "site"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(not sendmail_oracle.available() or shutil.which("postfix") is None,
                       reason="needs root, the unpacked sendmail (scripts/install-sendmail-"
                              "oracle.sh), m4 and postfix"),
]


def sample_variant(tmp_path: Path, **append: str) -> Path:
    """A copy of the sample site with text appended to files of its etc/mail."""
    root = tmp_path / "site"
    shutil.copytree(SAMPLE, root, symlinks=True)
    for name, text in append.items():
        path = root / "etc" / "mail" / name.replace("_", ".")
        with path.open("a") as f:
            f.write(text)
    return root


def translated(root: Path) -> tuple[SendmailSite, PostfixTranslation]:
    site = read_site(root)
    homes, _ = home_domains(site)
    return site, translate(site, home_domain=homes)


def rows(report: AddressReport) -> dict[str, Row]:
    return {r.address: r for r in report.rows}


REJECTIONS = {
    "newsletter@example.net": ("reject",),   # exact error: beside '@example.net frank'
    "news+x@example.net": ("reject",),       # pattern error: beside the same catch-all
    "jdoe@example.org": ("reject",),
    "paused@example.net": ("tempfail",),     # a 4xx error: refused for now, not for good
    "news@example.net": ("mailbox:frank",),  # the catch-all still takes the base address
}


def test_rejections_hold_for_every_client_and_local_submission(tmp_path: Path) -> None:
    root = sample_variant(tmp_path, virtusertable=(
        "news+*@example.net\terror:5.7.1:550 No detail addresses here\n"
        "paused@example.net\terror:4.2.1:450 mailbox disabled\n"))
    site, pf = translated(root)
    got = rows(check_addresses(root, site, pf, list(REJECTIONS)))
    assert {a: (r.old, r.new, r.status) for a, r in got.items()} == {
        a: (want, want, "same") for a, want in REJECTIONS.items()}


def test_a_rejection_only_outside_clients_get_is_different(tmp_path: Path) -> None:
    """The translation as it was before rejections came first and had their own
    virtual rows: the check must see what a LAN client and the sendmail command get."""
    root = sample_variant(tmp_path)
    site, pf = translated(root)
    main_cf = "\n".join(
        "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,"
        " check_recipient_access hash:/etc/postfix/recipient_rejections"
        if ln.startswith("smtpd_recipient_restrictions") else ln
        for ln in pf.files["main.cf.postconf"].splitlines()) + "\n"
    old = replace(pf, files={**pf.files, "main.cf.postconf": main_cf},
                  virtual_alias=tuple(r for r in pf.virtual_alias
                                      if not r[1].endswith("@" + REJECT_DOMAIN)))
    row = rows(check_addresses(root, site, old, ["newsletter@example.net"]))[
        "newsletter@example.net"]
    assert row.status == "different"
    assert row.new == ("reject", "trusted client: mailbox:frank",
                       "local submission: mailbox:frank")


def test_every_alias_file_counts_and_the_first_wins(tmp_path: Path) -> None:
    root = sample_variant(
        tmp_path,
        sendmail_mc="define(`ALIAS_FILE', `/etc/mail/aliases,/etc/mail/aliases.lists')dnl\n",
        aliases_lists="projects:\talice, hamid\nroot:\tcarol\n")
    site, pf = translated(root)
    got = rows(check_addresses(root, site, pf, ["projects@example.org", "root@example.org"]))
    assert {a: (r.old, r.new, r.status) for a, r in got.items()} == {
        "projects@example.org": (("mailbox:alice", "mailbox:hamid"),) * 2 + ("same",),
        "root@example.org": (("mailbox:alice", "mailbox:hamid"),) * 2 + ("same",)}


def test_redirected_mailbox_address_is_reported_not_hidden(tmp_path: Path) -> None:
    """'erin@example.org erin@example.net' beside '@example.net frank': sendmail still
    delivered the list 'office' (a bare 'erin') to erin's mailbox; Postfix cannot, so the
    translation says the mailbox is unreachable and the check shows the difference."""
    root = sample_variant(tmp_path, virtusertable="erin@example.org\terin@example.net\n")
    site, pf = translated(root)
    got = rows(check_addresses(root, site, pf, ["office@example.org", "erin@example.org"]))
    office = got["office@example.org"]
    assert "mailbox:erin" in office.old and "mailbox:frank" in office.new
    assert office.status == "different"
    assert (got["erin@example.org"].old, got["erin@example.org"].status) == (
        ("mailbox:frank",), "same")
    assert [f.severity for f in pf.findings if f.code == "PF010" and f.subject == "erin"] == [
        "error"]


def test_a_routing_define_the_translation_lacks_shows_as_different(tmp_path: Path) -> None:
    """LUSER_RELAY sent unknown local users to another host: the reader reports it
    (SM063) and the oracle runs with it, so the check no longer says 'same'."""
    root = sample_variant(
        tmp_path, sendmail_mc="define(`LUSER_RELAY', `smtp:[oldbox.example.org]')dnl\n")
    site, pf = translated(root)
    assert [f.code for f in site.findings if "LUSER_RELAY" in f.reason] == ["SM063"]
    row = rows(check_addresses(root, site, pf, ["no-such-user-zz@example.org"]))[
        "no-such-user-zz@example.org"]
    assert (row.old, row.new, row.status) == (
        ("remote:no-such-user-zz@[oldbox.example.org] via [oldbox.example.org]",),
        ("reject",), "different")
