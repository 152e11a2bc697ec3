"""sendmail.mc macros and /etc/passwd with the mail-user policy."""

from __future__ import annotations

from pathlib import Path

from checks.sendmail_oracle import oracle_mc
from converters.sendmail.mc import parse_mc
from converters.sendmail.passwd import MailUserPolicy, UnixUser, parse_passwd
from converters.sendmail.textfile import decode_lines

MC = """\
divert(-1)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
FEATURE(`virtusertable', `hash -o /etc/mail/vu.db')dnl
FEATURE(`access_db', , `skip')dnl
FEATURE(`mailertable', `ldap -1 -v mailer')dnl
dnl FEATURE(`genericstable')dnl
FEATURE(local_procmail)
VIRTUSER_DOMAIN_FILE(`-o /etc/mail/virtuser-domains')dnl
VIRTUSER_DOMAIN(`a.example b.example')dnl
LOCAL_DOMAIN(`c.example')dnl
define(`confDOMAIN_NAME', `mx.example.org')dnl
FEATURE(`virtuser_entire_domain')dnl
"""


def test_mc_features_and_maps():
    mc, findings = parse_mc(decode_lines("/etc/mail/sendmail.mc", MC.encode()))
    assert mc.map_file("virtusertable") == "/etc/mail/vu"
    assert mc.map_file("access_db") == "/etc/mail/access"
    assert mc.map_file("genericstable") is None           # commented out with dnl
    assert "local_procmail" in mc.features
    assert mc.virtuser_domain_files == ["/etc/mail/virtuser-domains"]
    assert mc.virtuser_domains == ["a.example", "b.example"]
    assert mc.local_domains == ["c.example"]
    assert mc.defines["confDOMAIN_NAME"] == "mx.example.org"
    assert [(f.code, f.line) for f in findings] == [("SM061", 5), ("SM063", 12)]


PASSWD = """\
root:x:0:0:root:/root:/bin/bash
alice:x:1000:1000::/home/alice:/bin/bash
imap:x:1001:1001::/home/imap:/usr/sbin/nologin
ghost:x:1002:1002::/home/ghost:/usr/sbin/nologin
nobody:x:65534:65534::/nonexistent:/bin/sh
bad line
alice:x:1003:1003::/home/a2:/bin/sh
+@netgroup
"""


def test_passwd_and_policy(tmp_path: Path):
    (tmp_path / "home" / "imap").mkdir(parents=True)
    users, findings = parse_passwd(decode_lines("/etc/passwd", PASSWD.encode()))
    assert [u.name for u in users] == ["root", "alice", "imap", "ghost", "nobody"]
    assert users[1] == UnixUser("alice", 1000, "/home/alice", "/bin/bash")
    assert [(f.code, f.line) for f in findings] == [("SM070", 6), ("SM071", 7), ("SM070", 8)]
    policy = MailUserPolicy()
    mail = [u.name for u in users if policy.is_mail_user(u, tmp_path)]
    assert mail == ["alice", "imap"]         # ghost: nologin and no home in the tree
    strict = MailUserPolicy(existing_home_counts=False, extra_users=frozenset({"root"}))
    assert [u.name for u in users if strict.is_mail_user(u, tmp_path)] == ["root", "alice"]


ROUTING_MC = """\
FEATURE(`greet_pause', `1000')dnl
FEATURE(`delay_checks', `friend', `n')dnl
define(`confBAD_RCPT_THROTTLE',`3')dnl
define(`LUSER_RELAY', `smtp:[oldbox.example.org]')dnl
FEATURE(`domaintable')dnl
FEATURE(`stickyhost')dnl
FEATURE(`ldap_routing')dnl
FEATURE(`bestmx_is_local', `example.org')dnl
define(`MAIL_HUB', `hub.example.org')dnl
LOCAL_USER(`root')dnl
LOCAL_RULE_0
R$+ < @ x . example >	$#smtp $@ elsewhere $: $1
"""


def test_every_unreproduced_routing_macro_is_reported_at_its_line():
    mc, findings = parse_mc(decode_lines("/etc/mail/sendmail.mc", ROUTING_MC.encode()))
    assert [(f.code, f.line) for f in findings] == [("SM063", 11)] + [
        ("SM063", n) for n in range(4, 11)]
    # the oracle gets them as written, so their effect shows in the address check
    assert mc.unreproduced == [
        "define(`LUSER_RELAY', `smtp:[oldbox.example.org]')", "FEATURE(`domaintable')",
        "FEATURE(`stickyhost')", "FEATURE(`ldap_routing')",
        "FEATURE(`bestmx_is_local', `example.org')", "define(`MAIL_HUB', `hub.example.org')",
        "LOCAL_USER(`root')"]
    cf = oracle_mc(mc, "mx.example.org", Path("/w"), ["/etc/mail/aliases"])
    assert "define(`LUSER_RELAY', `smtp:[oldbox.example.org]')dnl\n" in cf
    assert "FEATURE(`domaintable')dnl\n" in cf and "greet_pause" not in cf
