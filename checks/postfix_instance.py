"""A private Postfix loaded with a translation, asked what it does with an address.

The verdict comes from Postfix's own daemons, never from our reading of the
tables, in two steps that mirror how mail arrives:

1. RCPT: an SMTP session with the instance's smtpd, the client presented as
   an outside host with XCLIENT (``smtpd_authorized_xclient_hosts`` is the
   loopback address), so client OKs for the old site's own hosts and
   ``permit_mynetworks`` do not hide the recipient restrictions; and a
   second session as the loopback client, which they do let through
   (sendmail refused what it refused for every client).  A 4xx/5xx here is
   the answer.  Only for the site's own domains: sendmail's ``-bv`` does
   not ask relay questions either.
2. Routing: ``sendmail -bv`` of the instance, which is also what mail
   submitted with the ``sendmail`` command goes through (no smtpd).  cleanup(8) expands virtual
   aliases, trivial-rewrite(8) picks transport and next hop, local(8) expands
   aliases and names the command or file, and the bounce daemon mails a
   delivery status report (RFC 3464) to a sender whose domain the instance
   routes to a pipe that stores it.  Nothing is delivered: in this mode
   the agents only report.  The smtp, relay and lmtp services are the
   discard(8) agent, whose report names the next hop without connecting
   anywhere (there is no DNS and no Cyrus here); everything before them is
   the configuration under test.

The instance is laid out like the live frontend: the translation's main.cf
settings and hash/pcre files, with the exact addresses, the domains and the
per-domain transports in a routing SQLite file written by
``migrate.routing.RoutingTable`` and read through ``sqlite:`` maps, the exact
table first in ``virtual_alias_maps`` and the pcre table after it.
"""

from __future__ import annotations

import email
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from converters.postfix import PostfixTranslation
from migrate.routing import RoutingTable

REPORT_DOMAIN = "verify.invalid"
REPORT_SENDER = f"report@{REPORT_DOMAIN}"
#: The mailbox transport of every published domain; the lmtp service is
#: discard(8) here, so this next hop in a report means "reaches Cyrus".
MAILBOX_TRANSPORT = "lmtp:inet:cyrus.check.invalid:2003"
MAILBOX_NEXTHOP = "inet:cyrus.check.invalid:2003"
HASH_TABLES = ("virtual", "recipient_rejections", "recipient_access", "transport", "generic",
               "client_access", "sender_access", "relay_recipients")
SQLITE_QUERIES = {
    "relay_domains": "SELECT domain FROM domains WHERE domain = '%s'",
    "transport": "SELECT transport FROM transport WHERE domain = '%s'",
    "virtual_alias": "SELECT target FROM virtual_alias WHERE address = '%s'",
    "virtual_alias_domains": "SELECT domain FROM virtual_alias_domains WHERE domain = '%s'",
}
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# Outbound and Cyrus deliveries only report their next hop (see checks/postfix_instance.py).
smtp      unix  -       -       n       -       -       discard
relay     unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       discard
# Delivery status reports of sendmail -bv are stored, one file per report.
report    unix  -       n       n       -       -       pipe flags=F user=nobody
  argv={sink} {reports} ${{queue_id}}
"""


@dataclass(frozen=True)
class PostfixEndpoint:
    """One recipient of a Postfix delivery status report."""

    recipient: str
    action: str
    diagnostic: str
    #: The RFC 3464 status (4.x.x refused for now, 5.x.x for good).
    status: str = ""


class PostfixInstance:
    """A private Postfix (own config and queue under /var/tmp), started and stopped here.

    The translation's ``domains`` file decides each domain's class: a mailbox
    domain is published to the routing table with the mailbox transport, as
    the cutover leaves it when it is done; an alias domain (addresses only)
    is a ``virtual_alias_domains`` member, whose unknown addresses smtpd
    refuses.
    """

    def __init__(self, translation: PostfixTranslation, hostname: str):
        self.translation = translation
        self.domains = domain_kinds(translation)
        self.hostname = hostname
        self.dir: Path | None = None
        self.port = 0
        self.check_output = ""
        self.map_warnings = ""

    @property
    def etc(self) -> Path:
        assert self.dir is not None
        return self.dir / "etc"

    def postconf(self, *settings: str) -> None:
        if settings:
            self._run(["postconf", "-c", str(self.etc), "-e", *settings])

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """A Postfix tool; warnings are kept in ``map_warnings`` for the caller to judge."""
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or "fatal" in proc.stderr:
            raise OSError(f"{' '.join(argv[:3])}: {proc.stderr.strip()}")
        if "warning" in proc.stderr and argv[0] in ("postmap", "postalias"):
            self.map_warnings += proc.stderr
        return proc

    def __enter__(self) -> PostfixInstance:
        self.dir = Path(tempfile.mkdtemp(prefix="mailmigrate-addrcheck-", dir="/var/tmp"))
        try:
            self._configure()
            self._run(["postfix", "-c", str(self.etc), "start"])
            self._wait_for_smtpd()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.dir is None:
            return
        subprocess.run(["postfix", "-c", str(self.etc), "stop"], capture_output=True,
                       check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def _configure(self) -> None:
        d = self.dir
        assert d is not None
        d.chmod(0o755)
        etc = self.etc
        for sub in ("etc", "queue", "data", "reports", "bin"):
            (d / sub).mkdir()
        shutil.chown(d / "data", "postfix")
        shutil.chown(d / "reports", "nobody")
        sink = d / "bin" / "sink"
        sink.write_text('#!/bin/sh\ncat > "$1/$2.msg.tmp" && mv "$1/$2.msg.tmp" "$1/$2.msg"\n')
        sink.chmod(0o755)
        (etc / "main.cf").write_text("")
        (etc / "master.cf").write_text(MASTER_CF.format(
            port=self._free_port(), sink=sink, reports=d / "reports"))
        files = self.translation.files
        for name, text in files.items():
            (etc / name).write_text(text)
        (etc / "report_transport").write_text(f"{REPORT_DOMAIN}\treport:\n")
        routing = RoutingTable(d / "routing.sqlite")
        rows = self.translation.virtual_alias
        for domain, kind in self.domains.items():
            if kind == "mailbox":
                routing.publish_domain(domain, MAILBOX_TRANSPORT, rows)
            else:
                routing.publish_alias_domain(domain, rows)
        (d / "routing.sqlite").chmod(0o644)
        for name, query in SQLITE_QUERIES.items():
            (etc / f"{name}.cf").write_text(f"dbpath = {d / 'routing.sqlite'}\nquery = {query}\n")
        generated = [ln for ln in files["main.cf.postconf"].splitlines() if ln.strip()]
        self.postconf(
            "compatibility_level = 3.6", f"queue_directory = {d / 'queue'}",
            f"data_directory = {d / 'data'}", f"maillog_file = {d / 'postfix.log'}",
            f"myhostname = {self.hostname}", "inet_interfaces = loopback-only",
            "inet_protocols = ipv4", "disable_dns_lookups = yes", "smtp_host_lookup = native",
            "lmtp_host_lookup = native", "smtpd_authorized_xclient_hosts = 127.0.0.1",
            "in_flow_delay = 0", "smtpd_error_sleep_time = 0", "smtpd_soft_error_limit = 100000",
            "smtpd_hard_error_limit = 100000", "smtpd_junk_command_limit = 100000",
            *[ln.replace("/etc/postfix/", f"{etc}/") for ln in generated])
        transport = f"hash:{etc}/transport, " if "transport_maps" in files["main.cf.postconf"] \
            else ""
        relay = self._postconf_value("relay_domains")
        self.postconf(
            f"relay_domains = {relay + ', ' if relay else ''}sqlite:{etc}/relay_domains.cf",
            f"transport_maps = {transport}sqlite:{etc}/transport.cf,"
            f" hash:{etc}/report_transport",
            f"virtual_alias_maps = sqlite:{etc}/virtual_alias.cf, pcre:{etc}/virtual.pcre",
            f"virtual_alias_domains = sqlite:{etc}/virtual_alias_domains.cf")
        for name in (*HASH_TABLES, "report_transport"):
            self._run(["postmap", "-c", str(etc), f"hash:{etc / name}"])
        self._run(["postalias", "-c", str(etc), f"hash:{etc / 'aliases'}"])
        for name in ("virtual.pcre", "recipient_rejections.pcre"):
            if (etc / name).exists():
                # A pcre table is compiled when read: one lookup shows every bad line.
                proc = subprocess.run(["postmap", "-c", str(etc), "-q", "probe@check.invalid",
                                       f"pcre:{etc / name}"], capture_output=True, text=True,
                                      check=False)
                self.map_warnings += proc.stderr
        self.check_output = self._run(["postfix", "-c", str(etc), "check"]).stderr

    def _postconf_value(self, name: str) -> str:
        out = self._run(["postconf", "-c", str(self.etc), "-h", "-n", name]).stdout
        return out.strip()

    def _free_port(self) -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        return self.port

    def _wait_for_smtpd(self) -> None:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise OSError(f"private Postfix did not listen on port {self.port}")

    def rcpt(self, addresses: list[str], *, trusted: bool = False
             ) -> dict[str, tuple[int, str]]:
        """smtpd's answer to RCPT TO for an outside client (or a trusted one) and <>.

        The trusted client is the loopback address itself, which
        ``permit_mynetworks`` (and a client OK for the old site's own hosts)
        lets through: a refusal that only outside clients get shows up as a
        difference between the two.  One session, one transaction per
        address (RSET between).  The error and junk-command limits and
        in_flow_delay (a second per message once nothing leaves the queue,
        and no probe ever does) are lifted in this instance: they only slow
        a client down and decide nothing.
        """
        out: dict[str, tuple[int, str]] = {}
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            s.ehlo("probe.check.invalid")
            if not trusted:
                code, msg = s.docmd("XCLIENT", "ADDR=203.0.113.50 NAME=[UNAVAILABLE]")
                if code != 220:
                    raise OSError(f"XCLIENT refused: {code} {msg.decode()}")
                s.ehlo("probe.check.invalid")
            for address in addresses:
                s.mail("<>")
                code, msg = s.rcpt(address)
                out[address] = (code, msg.decode(errors="replace"))
                s.rset()
        return out

    def verify(self, addresses: list[str], timeout: float = 120
               ) -> dict[str, list[PostfixEndpoint]]:
        """``sendmail -bv`` per address; the report's endpoints per address."""
        assert self.dir is not None
        for address in addresses:
            self._run(["sendmail", "-C", str(self.etc), "-bv", "-f", REPORT_SENDER, "--",
                       address])
        reports = self.dir / "reports"
        deadline = time.monotonic() + timeout
        out: dict[str, list[PostfixEndpoint]] = {}
        while time.monotonic() < deadline:
            for path in sorted(reports.glob("*.msg")):
                to, endpoints = parse_report(path.read_bytes())
                out[to] = endpoints
                path.unlink()
            if all(a in out for a in addresses):
                return out
            time.sleep(0.05)
        missing = [a for a in addresses if a not in out]
        raise OSError(f"no delivery report from Postfix for {', '.join(missing[:5])}")


def domain_kinds(translation: PostfixTranslation) -> dict[str, str]:
    """domain -> ``mailbox`` | ``alias``, from the translation's ``domains`` file."""
    rows = (ln.split("\t") for ln in translation.files["domains"].splitlines()
            if ln and not ln.startswith("#"))
    return {r[0]: r[1] if len(r) > 1 else "alias" for r in rows}


def parse_report(raw: bytes) -> tuple[str, list[PostfixEndpoint]]:
    """(the probed address, its endpoints) from one delivery status report."""
    msg = email.message_from_bytes(raw)
    to = ""
    endpoints: list[PostfixEndpoint] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/rfc822-headers":
            headers = email.message_from_bytes(part.get_payload(decode=True) or b"")
            to = " ".join((headers.get("To") or "").split())
        elif ctype == "message/delivery-status":
            for block in part.get_payload()[1:]:
                endpoints.append(_endpoint(block))
    return to, endpoints


def _endpoint(block: Message) -> PostfixEndpoint:
    def field(name: str) -> str:
        value = " ".join(str(block.get(name, "")).split())
        return value.split(";", 1)[1].strip() if ";" in value else value
    return PostfixEndpoint(field("Final-Recipient"), field("Action"), field("Diagnostic-Code"),
                           field("Status"))
