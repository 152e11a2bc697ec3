"""read_site, resolve and mail_domains on the fixture tree tests/data/sendmail/site."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.sendmail import (
    MailUserPolicy,
    home_domains,
    mail_domains,
    primary_domain,
    read_site,
    resolve,
)

SITE = Path(__file__).parent.parent / "data" / "sendmail" / "site"


@pytest.fixture(scope="module")
def site():
    return read_site(SITE)


def test_domains_and_host(site):
    assert site.hostname == "mx.example.org"
    assert site.local_domains == ("mx.example.org", "example.org", "mail", "shop.example.net",
                                  "locked.example.net")
    assert site.virtual_domains == ("virt.example.com",)
    assert site.local_procmail is True
    assert primary_domain(site) == "example.org"


def test_users_policy_and_referenced(site):
    assert [u.name for u in site.users] == ["alice", "bob", "carol", "dave", "erin", "gina",
                                            "frank"]
    assert site.referenced_users == ("erin", "gina", "frank")
    assert "svc" not in {u.name for u in site.users}


def test_findings_point_at_old_paths_and_lines(site):
    where = {(f.code, f.where()) for f in site.findings}
    assert ("SM023", "/etc/mail/aliases:26") in where       # duplicate alias
    assert ("SM024", "/etc/mail/aliases:15") in where       # backslash continuation
    assert ("SM025", "/etc/mail/aliases:20") in where       # indented '#'
    assert ("SM020", "/etc/mail/aliases:40") in where       # stray indented line
    assert ("SM011", "/etc/mail/virtusertable:21") in where  # duplicate key
    assert ("SM033", "/etc/mail/virtusertable:24") in where  # domain not routed
    assert ("SM070", "/etc/passwd:11") in where
    assert ("SM083", "/etc/mail/aliases:38") in where       # svc is a system account
    assert ("SM085", "/etc/mail/lists/gone") in where


def test_resolution_traces(site):
    res = resolve(site, "chain@virt.example.com")
    assert [d.kind for d in res.deliveries] == ["unknown"]   # bare 'sales' is no key
    assert any("virtusertable:18" in step for step in res.trace)
    res = resolve(site, "alice+x@example.org")
    assert [(d.kind, d.target, d.detail) for d in res.deliveries] == [("mailbox", "alice", "x")]
    res = resolve(site, "x@legacy.example")                    # mailertable local:postmaster
    assert res.mailboxes() == {"alice"}


def test_mail_domains_policy(site):
    domains = {d.name: d for d in mail_domains(site)}
    assert "mail" not in domains                               # bare host name
    assert domains["virt.example.com"].kind == "virtual"
    assert domains["virt.example.com"].users == ("erin",)      # reached only there
    assert domains["example.org"].users == ("alice", "bob", "carol", "dave", "gina", "frank")
    homes, findings = home_domains(site)
    assert sum(len(d.users) for d in domains.values()) == len(homes) == len(site.users)
    assert {f.subject for f in findings} == {"alice", "bob", "carol", "dave", "gina"}


def test_policy_user_stays_local_even_if_reached_only_virtually(tmp_path):
    etc = tmp_path / "etc" / "mail"
    etc.mkdir(parents=True)
    (tmp_path / "etc" / "passwd").write_text(
        "pat:x:1000:1000::/home/pat:/bin/bash\nvic:x:1001:1001::/srv/vic:/usr/sbin/nologin\n")
    (etc / "sendmail.mc").write_text(
        "FEATURE(`use_cw_file')dnl\nFEATURE(`virtusertable')dnl\n"
        "VIRTUSER_DOMAIN(`v.example')dnl\ndefine(`confDOMAIN_NAME', `h.l.example')dnl\n")
    (etc / "local-host-names").write_text("l.example\n")
    (etc / "virtusertable").write_text("sales@v.example pat\ninfo@v.example vic\n")
    site = read_site(tmp_path)
    homes, _ = home_domains(site)
    assert homes == {"pat": "l.example", "vic": "v.example"}
    site = read_site(tmp_path, policy=MailUserPolicy(extra_users=frozenset({"vic"})))
    assert home_domains(site)[0]["vic"] == "l.example"


def test_missing_mc_assumes_present_tables(tmp_path):
    etc = tmp_path / "etc" / "mail"
    etc.mkdir(parents=True)
    (etc / "virtusertable").write_text("a@v.example b@remote.example\n")
    site = read_site(tmp_path)
    assert site.virtual_domains == ("v.example",)
    assert {f.code for f in site.findings} >= {"SM060", "SM081"}
    assert resolve(site, "a@v.example").deliveries[0].target == "b@remote.example"


def test_primary_domain_skips_host_names_below_a_local_domain(tmp_path):
    etc = tmp_path / "etc" / "mail"
    etc.mkdir(parents=True)
    (etc / "sendmail.mc").write_text("FEATURE(`use_cw_file')dnl\n"
                                     "define(`confDOMAIN_NAME', `mail.example.org')dnl\n")
    (etc / "local-host-names").write_text(
        "localhost\nmail.example.org\nmx.example.org\nexample.org\nlists.example.org\n")
    assert primary_domain(read_site(tmp_path)) == "example.org"
