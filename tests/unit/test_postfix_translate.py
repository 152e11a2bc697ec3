"""End-to-end: the fixture site translated, built with the real postmap/postalias, and
queried the way Postfix's cleanup(8) and smtpd(8) query them.

Expected answers are sendmail's (cf/README, proto.m4, alias.c) for the fixture in
tests/data/sendmail/site, worked out by hand for each address.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from converters.postfix import translate
from converters.sendmail import home_domains, read_site

SITE = Path(__file__).parent.parent / "data" / "sendmail" / "site"
pytestmark = pytest.mark.skipif(shutil.which("postmap") is None, reason="postfix not installed")


class BuiltMaps:
    """The generated tables compiled into a directory, queried with ``postmap -q``."""

    def __init__(self, directory: Path, files: dict[str, str], config: Path):
        self.dir = directory
        self.config = config
        for name, text in files.items():
            (directory / name).write_text(text)
        for name in ("virtual", "recipient_rejections", "recipient_access", "transport",
                     "generic", "client_access", "sender_access", "relay_recipients"):
            self._run("postmap", f"hash:{directory / name}")
        self._run("postalias", f"hash:{directory / 'aliases'}")
        self._cache: dict[tuple[str, str], str | None] = {}
        self._dumps: dict[str, dict[str, str]] = {}

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([args[0], "-c", str(self.config), *args[1:]], capture_output=True,
                              text=True, check=False)
        assert "warning" not in proc.stderr and "fatal" not in proc.stderr, proc.stderr
        return proc

    def query(self, table: str, key: str, kind: str = "hash") -> str | None:
        """One lookup; None when the key is absent.  Hash tables are read back once with
        ``postmap -s`` (keys as the database holds them, i.e. folded)."""
        path = self.dir / table
        if not path.exists():
            return None
        if kind == "hash" and table != "aliases":
            if table not in self._dumps:
                dump = self._run("postmap", "-s", f"hash:{path}").stdout
                self._dumps[table] = dict(ln.split("\t", 1) for ln in dump.splitlines())
            return self._dumps[table].get(key.lower())
        if (table, key) not in self._cache:
            tool = "postalias" if table == "aliases" else "postmap"
            proc = self._run(tool, "-q", key, f"{kind}:{path}")
            self._cache[(table, key)] = proc.stdout.strip() if proc.returncode == 0 else None
        return self._cache[(table, key)]

    def virtual_once(self, address: str) -> list[str] | None:
        """mail_addr_find over hash then pcre, with recipient_delimiter '+' and no extension
        propagation: full address (hash, pcre), user@domain (hash), @domain (hash)."""
        address = address.lower()
        local, domain = address.rsplit("@", 1)
        tries = [(address, "hash", "virtual"), (address, "pcre", "virtual.pcre")]
        if "+" in local:
            tries.append((local.split("+", 1)[0] + "@" + domain, "hash", "virtual"))
        tries.append(("@" + domain, "hash", "virtual"))
        for key, kind, table in tries:
            value = self.query(table, key, kind)
            if value is not None:
                return [v.strip() for v in value.split(",")]
        return None

    def virtual(self, address: str, depth: int = 0) -> set[str]:
        """Recursive expansion as cleanup(8) does it; an address mapped to itself stops."""
        assert depth < 20, f"virtual alias loop at {address}"
        result = self.virtual_once(address)
        if result is None:
            return {address.lower()}
        out: set[str] = set()
        for target in result:
            if target.lower() == address.lower():
                out.add(target.lower())
            else:
                out |= self.virtual(target, depth + 1)
        return out

    def rejection(self, address: str) -> str | None:
        """The check_recipient_access rejections that come before every permit: hash
        then pcre, full address, then user@domain, domain."""
        address = address.lower()
        local, domain = address.rsplit("@", 1)
        for kind, table in (("hash", "recipient_rejections"),
                            ("pcre", "recipient_rejections.pcre")):
            value = self.query(table, address, kind)
            if value is not None:
                return None if value == "DUNNO" else value
        if "+" in local:
            value = self.query("recipient_rejections", local.split("+", 1)[0] + "@" + domain)
            if value is not None:
                return value
        return self.query("recipient_rejections", domain)

    def submitted(self, address: str) -> set[str]:
        """Where mail from the sendmail command ends: virtual expansion, then for each
        result its transport (address, then domain), or the address itself."""
        out: set[str] = set()
        for target in self.virtual(address):
            domain = target.rsplit("@", 1)[1]
            route = self.query("transport", target) or self.query("transport", domain)
            out.add(route if route and route.startswith(("error:", "retry:")) else target)
        return out


@pytest.fixture(scope="session")
def postfix_config(tmp_path_factory) -> Path:
    """One empty main.cf for every postmap run (the first run per directory is slow)."""
    config = tmp_path_factory.mktemp("postfix-config")
    (config / "main.cf").write_text("")
    return config


@pytest.fixture(scope="module")
def translation():
    site = read_site(SITE)
    homes, _ = home_domains(site)
    return translate(site, home_domain=homes)


@pytest.fixture(scope="module")
def maps(translation, tmp_path_factory, postfix_config):
    return BuiltMaps(tmp_path_factory.mktemp("postfix"), translation.files, postfix_config)


ALICE, BOB, CAROL, DAVE = ("alice@example.org", "bob@example.org", "carol@example.org",
                           "dave@example.org")
BOB_REMOTE = "bob@elsewhere.example"
STAFF = {ALICE, BOB, BOB_REMOTE, CAROL}
BIGLIST = {ALICE, BOB, BOB_REMOTE, "gina@example.org", "biglist@localhost"}

#: address -> set of final recipients in the new system (sendmail's answer, rewritten
#: to home-domain mailboxes).  Each line names the trap it covers.
DELIVERED = {
    "alice@example.org": {ALICE},                          # identity row
    "ALICE@Example.ORG": {ALICE},                          # case folding
    "alice+news@example.org": {"alice+news@example.org"},  # local_procmail keeps +detail
    "alice+news@mx.example.org": {"alice+news@example.org"},
    "alice@mx.example.org": {ALICE},                       # every class-w domain
    "bob@example.org": {BOB, BOB_REMOTE},                  # alias naming itself
    "staff@example.org": STAFF,                            # leading-blank continuation
    "staff@mx.example.org": STAFF,
    "team@example.org": {DAVE, "erin@virt.example.com"},   # backslash continuation
    "listx@example.org": {ALICE},                          # indented '#' line
    "mixedcase@example.org": {CAROL},
    "MixedCase@example.org": {CAROL},
    "dup@example.org": {BOB, BOB_REMOTE},                  # duplicate alias: last wins
    "tracker@example.org": {"tracker@localhost"},          # pipe -> local(8)
    "archive@example.org": {"archive@localhost", ALICE},   # file -> local(8)
    "biglist@example.org": BIGLIST,                        # :include: expanded
    "sales@example.org": {ALICE},
    "ext@example.org": {ALICE},                            # key folded by makemap
    "support@example.org": {DAVE},
    "help@virt.example.com": {DAVE},                       # value routed again
    "jobs@virt.example.com": {"erin@virt.example.com"},    # erin's home is virtual
    "erin@virt.example.com": {"erin@virt.example.com"},
    "erin+x@virt.example.com": {"erin@virt.example.com"},  # user@dom drops detail
    "erin@example.org": {"erin@virt.example.com"},         # class-w fall-through
    "old+foo@virt.example.com": {"new+foo@example.com"},   # user+* with %2
    "old@virt.example.com": {"old@catch.example.com"},     # no '+': @dom default
    "news+a@virt.example.com": {DAVE},                     # user++ -> bare local name
    "news+@virt.example.com": {"news+@catch.example.com"},  # ++ needs a detail
    "zz+q@virt.example.com": {"zz+q@catch.example.com"},   # +* with %1%3
    "zz@virt.example.com": {"zz@catch.example.com"},       # @dom with %1
    "pct@virt.example.com": {"100%off@example.com"},       # %% is a literal percent
    "dup@virt.example.com": {ALICE},                       # duplicate key: first kept
    "listmaster@virt.example.com": BIGLIST,
    "alice@shop.example.net": {ALICE},
    "alice+x@shop.example.net": {ALICE},                   # detail dropped on key match
    "bob@shop.example.net": {BOB_REMOTE},                  # entry beats the alias
    "carol@locked.example.net": {CAROL},
    "dave+x@example.org": {ALICE},                         # alias dave+*
    "dave@example.org": {DAVE},
    "postmaster@example.org": {ALICE},                     # alias chain
    "MAILER-DAEMON@example.org": {ALICE},
    "root@mx.example.org": {ALICE},
    "sysmail@example.org": {"svc@localhost"},              # system account stays local
    "frank-mail@example.org": {"frank@example.org"},
    "gina@example.org": {"gina@example.org"},
}

#: address -> sendmail's RCPT-time rejection (code and DSN).
REJECTED = {
    "gone@virt.example.com": "550 5.7.0",
    "gone+x@virt.example.com": "550 5.7.0",
    "refuse@example.org": "550 5.1.1",
    "info@example.org": "550 5.1.1",        # bare 'sales' is no virtusertable key
    "chain@virt.example.com": "550 5.1.1",  # ... also when reached by recursion
    "nobody-there@example.org": "550 5.1.1",
    "loopa@example.org": "550 5.1.1",
    "y@dead.example": "550 5.1.2",          # mailertable error
}

#: addresses that have no row at all: Postfix rejects them as unknown users.
UNLISTED = ["carol@shop.example.net", "carol+x@shop.example.net", "alice@locked.example.net",
            "ghostuser@example.org"]


def test_fixture_has_enough_cases():
    assert len(DELIVERED) + len(REJECTED) + len(UNLISTED) >= 40


@pytest.mark.parametrize("address", sorted(DELIVERED))
def test_delivered_like_sendmail(maps, address):
    assert maps.rejection(address) is None
    assert maps.virtual(address) == DELIVERED[address]


@pytest.mark.parametrize("address", sorted(REJECTED))
def test_rejected_like_sendmail(maps, address):
    reply = maps.rejection(address)
    assert reply is not None and reply.startswith(REJECTED[address])
    # the same refusal for mail the sendmail command submits (no smtpd)
    code, _, status = reply.partition(" ")
    assert maps.submitted(address) == {f"error:{status}"}


@pytest.mark.parametrize("address", UNLISTED)
def test_unlisted_addresses_have_no_row(maps, address):
    assert maps.rejection(address) is None
    assert maps.virtual_once(address) is None


def test_every_mailbox_has_an_identity_row(maps, translation):
    rows = dict(translation.virtual_alias)
    site = read_site(SITE)
    homes, _ = home_domains(site)
    for user, home in homes.items():
        address = f"{user}@{home}"
        assert address in rows[address].split(",")
        assert maps.virtual(address) >= {address}


def test_catch_all_does_not_swallow_a_mailbox(maps):
    # erin lives in virt.example.com, whose @domain entry forwards to catch.example.com.
    assert maps.virtual("erin@virt.example.com") == {"erin@virt.example.com"}
    assert maps.virtual("nosuch@virt.example.com") == {"nosuch@catch.example.com"}


def test_local8_aliases_hold_only_programs_files_includes(maps):
    assert maps.query("aliases", "tracker") == '"|/usr/local/bin/tracker --queue support"'
    assert maps.query("aliases", "archive") == "/var/spool/archive/mbox"
    assert maps.query("aliases", "biglist") == '"|/usr/bin/logger biglist"'
    assert maps.query("aliases", "missinglist") == ":include:/etc/mail/lists/gone"
    assert maps.query("aliases", "staff") is None


def test_virtual_alias_rows_equal_hash_file(translation):
    rows = dict(translation.virtual_alias)
    hashed = {}
    for line in translation.files["virtual"].splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("\t")
            hashed[key] = value.replace(", ", ",")
    spaced = {k for k in rows if " " in k}
    assert spaced == {"quoted name@mx.example.org", "quoted name@example.org"}
    assert {k: v for k, v in rows.items() if k not in spaced} == hashed


def test_no_error_text_in_any_map_value(translation):
    for address, targets in translation.virtual_alias:
        assert "error:" not in targets.lower(), address
    assert "error:" not in translation.files["virtual.pcre"].lower()


def test_transport_from_mailertable(maps):
    assert maps.query("transport", "partner.example") == "smtp:[10.0.0.5]"
    assert maps.query("transport", ".partner.example") == "smtp:relay.partner.example"
    assert maps.query("transport", "*") == "smtp:smarthost.example.org"
    assert maps.query("transport", "dead.example") == "error:5.1.2 Host unknown"
    assert maps.query("transport", "legacy.example") is None     # local:user reported
    assert maps.query("transport", ".example.edu") is None       # %1 reported


def test_access_split_by_tag(maps):
    assert maps.query("client_access", "10.1") == "OK"            # Connect: RELAY
    assert maps.query("client_access", "spammer.example") == "REJECT"
    assert maps.query("client_access", "192.168.1.5") == "DISCARD"
    assert maps.query("sender_access", "bad.example") == "550 5.7.1 No mail from you"
    assert maps.query("sender_access", "spam@bad.example") == "550 Go away"
    assert maps.query("sender_access", "friend@") == "OK"
    assert maps.query("sender_access", "quarantine.example") == "HOLD held for review"
    assert maps.query("sender_access", "relayme.example") is None  # From: RELAY refused
    assert maps.query("recipient_access", "blackhole@example.org") == "550 Mailbox disabled"
    assert maps.query("recipient_access", "skip.example") == "DUNNO"
    for table in ("client_access", "sender_access"):              # untagged: both
        assert maps.query(table, "spamhost.example") == "REJECT"


def test_generic_from_genericstable(maps):
    assert maps.query("generic", "alice@mx.example.org") == "alice.smith@example.org"
    assert maps.query("generic", "bob@mx.example.org") == "robert@example.org"
    assert maps.query("generic", "@shop.example.net") == "@example.org"


def test_main_cf_settings(translation):
    lines = translation.files["main.cf.postconf"].splitlines()
    assert "recipient_delimiter = +" in lines
    assert "propagate_unmatched_extensions = canonical" in lines
    assert "relay_domains = partner.example" in lines
    restrictions = next(ln for ln in lines if ln.startswith("smtpd_recipient_restrictions"))
    # the old tables' error answers before any permit (sendmail refused them for
    # every client), client OKs before reject_unauth_destination, To: entries after
    assert restrictions.index("recipient_rejections") < restrictions.index(
        "recipient_rejections.pcre") < restrictions.index(
        "check_client_access") < restrictions.index("permit_mynetworks") < restrictions.index(
        "reject_unauth_destination") < restrictions.index("hash:/etc/postfix/recipient_access")


def test_domains_file(translation):
    kinds = dict(line.split("\t") for line in translation.files["domains"].splitlines()
                 if not line.startswith("#"))
    assert kinds == {"mx.example.org": "alias", "example.org": "mailbox",
                     "shop.example.net": "alias", "locked.example.net": "alias",
                     "virt.example.com": "mailbox"}


def test_findings_name_file_and_line(translation):
    by_code = {}
    for f in translation.findings:
        by_code.setdefault(f.code, []).append(f)
    assert {f.where() for f in by_code["PF001"]} >= {"/etc/mail/aliases:27",
                                                   "/etc/mail/aliases:28"}
    assert any(f.where() == "/etc/mail/mailertable:3" for f in by_code["PF020"])
    assert any(f.where() == "/etc/mail/access:10" for f in by_code["PF031"])
    assert any(f.where() == "/etc/mail/virtusertable:7" for f in by_code["PF013"])
    assert any(f.subject == "ghostuser" for f in by_code["PF002"])
