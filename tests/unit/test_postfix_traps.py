"""One small site per trap, translated and checked with the real postmap/postalias."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_postfix_translate import BuiltMaps

from converters.postfix import translate
from converters.sendmail import home_domains, read_site

pytestmark = pytest.mark.skipif(shutil.which("postmap") is None, reason="postfix not installed")

PASSWD = ("alice:x:1000:1000::/home/alice:/bin/bash\n"
          "bob:x:1001:1001::/home/bob:/bin/bash\n"
          "vic:x:1002:1002::/srv/vic:/usr/sbin/nologin\n")


def make_site(root: Path, *, mc_extra: str = "", virtusertable: str = "", aliases: str = "",
              local: str = "l.example\n", virtual: str = "v.example\n", access: str = ""):
    etc = root / "etc" / "mail"
    etc.mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (etc / "sendmail.mc").write_text(
        "define(`confDOMAIN_NAME', `mx.l.example')dnl\nFEATURE(`use_cw_file')dnl\n"
        "FEATURE(`virtusertable')dnl\nFEATURE(`access_db')dnl\n"
        "VIRTUSER_DOMAIN_FILE(`/etc/mail/virtuser-domains')dnl\n" + mc_extra)
    (etc / "local-host-names").write_text(local)
    (etc / "virtuser-domains").write_text(virtual)
    (etc / "virtusertable").write_text(virtusertable)
    (etc / "aliases").write_text(aliases)
    (etc / "access").write_text(access)
    return read_site(root)


@pytest.fixture(scope="module")
def postfix_config(tmp_path_factory) -> Path:
    """One empty main.cf for all postmap runs of this module."""
    config = tmp_path_factory.mktemp("postfix-config")
    (config / "main.cf").write_text("")
    return config


@pytest.fixture
def build(tmp_path: Path, postfix_config: Path):
    """Translate a small site and build its maps: build(virtusertable=..., ...)."""
    def run(**kw):
        return _build(tmp_path, postfix_config, **kw)
    return run


def _build(tmp_path: Path, config: Path, **kw):
    site = make_site(tmp_path / "old", **kw)
    homes, _ = home_domains(site)
    result = translate(site, home_domain=homes)
    out = tmp_path / "new"
    out.mkdir()
    return result, BuiltMaps(out, result.files, config), homes


def test_constant_catch_all_keeps_mailboxes(build):
    result, maps, homes = build(virtusertable=(
        "sales@v.example vic\n@v.example catchall@remote.example\n"))
    assert homes["vic"] == "v.example"
    assert maps.virtual("vic@v.example") == {"vic@v.example"}        # identity row
    assert maps.virtual("sales@v.example") == {"vic@v.example"}
    assert maps.virtual("other@v.example") == {"catchall@remote.example"}
    assert maps.virtual("other+x@v.example") == {"catchall@remote.example"}
    assert any(f.code == "PF010" and f.subject == "vic" for f in result.findings)


def test_plus_error_default_spares_specific_entries(build):
    _, maps, _ = build(virtusertable=(
        "sales@v.example alice\nsales+*@v.example bob\n"
        "+*@v.example error:5.1.1:550 No plus addresses\n@v.example alice\n"))
    assert maps.rejection("x+y@v.example") == "550 5.1.1 No plus addresses"
    assert maps.rejection("sales+y@v.example") is None
    assert maps.virtual("sales+y@v.example") == {"bob@l.example"}
    assert maps.rejection("x@v.example") is None
    assert maps.virtual("x@v.example") == {"alice@l.example"}
    # mail from the sendmail command never meets smtpd: the catch-all must not take it
    assert maps.submitted("x+y@v.example") == {"error:5.1.1 No plus addresses"}
    assert maps.submitted("sales+y@v.example") == {"bob@l.example"}
    assert maps.submitted("x@v.example") == {"alice@l.example"}


def test_temporary_error_is_deferred_not_bounced(build):
    _, maps, _ = build(virtusertable="old@v.example error:4.2.1:450 mailbox disabled\n"
                                     "@v.example alice\n")
    assert maps.rejection("old@v.example") == "450 4.2.1 mailbox disabled"
    assert maps.submitted("old@v.example") == {"retry:4.2.1 mailbox disabled"}


def test_detail_dropped_without_local_procmail(build):
    _, maps, _ = build()
    assert maps.virtual("alice+news@l.example") == {"alice@l.example"}


def test_detail_kept_for_procmail(build):
    _, maps, _ = build(mc_extra="FEATURE(`local_procmail')dnl\n")
    assert maps.virtual("alice+news@l.example") == {"alice+news@l.example"}


def test_percent3_default_to_local_users(build):
    # '@v.example %1%3' names a local user built from the address: not static.
    result, maps, _ = build(virtusertable="@v.example %1%3\n")
    assert maps.virtual("alice@v.example") == {"alice@l.example"}
    assert maps.virtual("bob+x@v.example") == {"bob@l.example"}
    assert any(f.code == "PF011" for f in result.findings)


def test_value_naming_a_local_alias(build):
    # a bare value goes through aliases, never through virtusertable again
    _, maps, _ = build(virtusertable="info@v.example team\nteam@l.example bob\n",
                       aliases="team: alice\n")
    assert maps.virtual("info@v.example") == {"alice@l.example"}
    assert maps.virtual("team@l.example") == {"bob@l.example"}


def test_aliases_not_visible_in_virtual_only_domain(build):
    _, maps, _ = build(virtusertable="x@v.example alice\n", aliases="team: bob\n")
    assert maps.virtual("team@l.example") == {"bob@l.example"}
    assert maps.virtual_once("team@v.example") is None
    assert maps.virtual_once("bob@v.example") is None


def test_own_domains_not_relay_domains(build):
    result, _, _ = build(access="To:l.example RELAY\nTo:partner.example RELAY\n")
    lines = result.files["main.cf.postconf"].splitlines()
    assert "relay_domains = partner.example" in lines
    assert any(f.code == "PF033" for f in result.findings)


def test_access_to_duplicate_of_virtusertable_error(build):
    result, maps, _ = build(virtusertable="gone@l.example error:nouser Gone\n",
                            access="To:gone@l.example ERROR:550 Other text\n")
    assert maps.rejection("gone@l.example") == "550 5.1.1 Gone"
    assert any(f.code == "PF032" for f in result.findings)


def test_quoted_alias_names_and_commands_survive_postalias(build):
    result, maps, _ = build(aliases=(
        '"odd name": "|/usr/bin/prog one two"\nrun: "|/usr/bin/x", /tmp/f\n'))
    assert maps.query("aliases", "odd name") == '"|/usr/bin/prog one two"'
    assert maps.query("aliases", "run") == '"|/usr/bin/x", /tmp/f'
    assert maps.virtual("run@l.example") == {"run@localhost"}


def test_redirected_mailbox_address_is_an_unreachable_mailbox(build):
    """sendmail delivered 'team: alice' to alice's account without virtusertable; in
    Postfix alice@l.example, the row target of team@, follows the entry as well."""
    result, maps, _ = build(virtusertable="alice@l.example alice@v.example\n@v.example bob\n",
                            aliases="team: alice, bob\n")
    assert maps.virtual("team@l.example") == {"bob@l.example"}
    [f] = [f for f in result.findings if f.code == "PF010"]
    assert (f.severity, f.subject) == ("error", "alice")
    assert "mailbox becomes unreachable" in f.reason and "team@l.example" in f.reason
