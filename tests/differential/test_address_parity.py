"""Address parity: real sendmail 8.17 on the old tables against real Postfix on the new.

Three sites: the sample site (through the ``mailmigrate check addresses``
command), the translator's fixture site, and tests/data/sendmail/tricky (chains,
+detail forms, error defaults, case, duplicates, continuations, escapes).  Every
address must come out the same or be explained by a finding; the expected
answers in ``test_tricky_answers`` were worked out by hand from cf/README,
proto.m4 and aliases(5), and both servers must give them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from checks import sendmail_oracle
from checks.addresses import AddressReport, check_addresses
from converters.postfix import PostfixTranslation, translate
from converters.sendmail import SendmailSite, home_domains, read_site
from migrate.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "sendmail"
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "site"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(not sendmail_oracle.available() or shutil.which("postfix") is None,
                       reason="needs root, the unpacked sendmail (scripts/install-sendmail-"
                              "oracle.sh), m4 and postfix"),
]


def translated(root: Path) -> tuple[SendmailSite, PostfixTranslation]:
    site = read_site(root)
    homes, _ = home_domains(site)
    return site, translate(site, home_domain=homes)


@pytest.fixture(scope="module")
def tricky() -> tuple[SendmailSite, PostfixTranslation, AddressReport]:
    site, pf = translated(DATA / "tricky")
    return site, pf, check_addresses(DATA / "tricky", site, pf)


def assert_clean(report: AddressReport) -> None:
    assert report.unexplained == [], "\n".join(
        f"{r.address}: sendmail {r.old} {r.old_detail!r}, postfix {r.new} {r.new_detail!r}"
        for r in report.unexplained)
    assert report.map_warnings == ""
    assert report.postfix_check == ""


def test_sample_site_through_the_command(tmp_path: Path, capsys) -> None:
    config = tmp_path / "m.toml"
    config.write_text(f'[site]\nroot = "{SAMPLE}"\n[tracker]\ndb = "sqlite:///{tmp_path}/t.db"\n')
    assert main(["--config", str(config), "inventory"]) == 0
    capsys.readouterr()
    rc = main(["--config", str(config), "--json", "check", "addresses"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["different"] == 0 and out["map_warnings"] == ""
    rows = {r["address"]: r for r in out["addresses"]}
    assert len(rows) >= 100
    # a program alias now runs on the frontend: explained, never silently "same"
    helpdesk = rows["helpdesk@example.org"]
    assert helpdesk["status"] == "explained" and helpdesk["explained_by"] == ["PF001"]
    assert helpdesk["old"] == helpdesk["new"] == [
        "program:/usr/bin/rt-mailgate --queue general --action correspond"
        " --url http://localhost/rt/"]
    assert rows["jdoe@example.org"]["old"] == rows["jdoe@example.org"]["new"] == ["reject"]
    assert rows["no-such-user-zz@example.org"]["new"] == ["reject"]


def test_fixture_site() -> None:
    site, pf = translated(DATA / "site")
    report = check_addresses(DATA / "site", site, pf)
    assert_clean(report)
    rows = {r.address: r for r in report.rows}
    # an indented '#' line inside an alias: sendmail bounced that part (PF002)
    assert rows["listx@example.org"].old == ("mailbox:alice", "reject")
    assert rows["listx@example.org"].explained_by == ("PF002",)


def test_tricky_site_has_no_unexplained_difference(tricky) -> None:
    _, _, report = tricky
    assert len(report.rows) >= 40
    assert_clean(report)


TRICKY = {
    # virtusertable chains: info -> sales@tricky -> alias team
    "info@virt.example": ("mailbox:ann", "mailbox:carol", "mailbox:dave",
                          "remote:outside@partner.example via [mx.partner.example]"),
    "boss@virt.example": ("mailbox:ann", "mailbox:carol"),        # -> Chief@ -> carol alias
    "ann+x@virt.example": ("remote:ann+x@partner.example via [mx.partner.example]",),  # %2
    "news+x@virt.example": ("mailbox:ann", "mailbox:carol"),      # news++ -> newsdesk
    "news+@virt.example": ("mailbox:ann", "mailbox:carol"),       # ++ needs a detail: news@
    "nobody-here@virt.example": ("reject",),
    "pct@tricky.example": ("remote:100%off@partner.example via [mx.partner.example]",),
    "someone+x@plus.example": ("remote:someone+x@partner.example via [mx.partner.example]",),
    "someone@plus.example": ("remote:someone@partner.example via [mx.partner.example]",),
    "keep+x@plus.example": ("mailbox:dave",),                     # user@ entry drops detail
    "ok@err.example": ("mailbox:dave",),
    "gone@err.example": ("reject",),
    "other@err.example": ("reject",),
    "dup@tricky.example": ("mailbox:ann", "mailbox:carol"),       # 8.17 keeps the last dup
    "cont@tricky.example": ("mailbox:ann", "mailbox:carol", "mailbox:dave"),
    "chain1@tricky.example": ("mailbox:ann", "mailbox:carol", "mailbox:dave"),  # \dave
    "MIXED@Other.Tricky.Example": ("mailbox:ann", "mailbox:carol"),
    "ghost@tricky.example": ("reject",),
    "x@dead.example": ("reject",),
}


def test_tricky_answers() -> None:
    site, pf = translated(DATA / "tricky")
    report = check_addresses(DATA / "tricky", site, pf, list(TRICKY))
    got = {r.address: (r.old, r.new) for r in report.rows}
    assert got == {a: (want, want) for a, want in TRICKY.items()}


def test_a_wrong_row_is_reported_different(tricky) -> None:
    site, pf, _ = tricky
    rows = tuple((a, "dave@tricky.example" if a == "sales@tricky.example" else t)
                 for a, t in pf.virtual_alias)
    report = check_addresses(DATA / "tricky", site, replace(pf, virtual_alias=rows),
                             ["sales@tricky.example", "team@tricky.example"])
    by = {r.address: r for r in report.rows}
    assert by["sales@tricky.example"].status == "different"
    assert by["sales@tricky.example"].new == ("mailbox:dave",)
    assert by["team@tricky.example"].status == "same"
