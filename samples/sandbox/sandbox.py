#!/usr/bin/env python3
"""Local target servers for the demo and the live tests: Cyrus IMAP and Postfix.

    python3 samples/sandbox/sandbox.py start|stop|status [--dir DIR] [--json]

Both servers are private instances built from Debian's packages: every config
file, spool, socket, pid file and log lives under DIR (default: the
MAILMIGRATE_SANDBOX environment variable, else /var/tmp/mailmigrate-sandbox),
and every listener is bound to 127.0.0.1 on a non-standard port, so the
sandbox neither needs nor disturbs a system-wide mail setup.

Cyrus (master from /usr/lib/cyrus/bin) serves IMAP, ManageSieve and LMTP; its
only account is the admin `mmadmin`, whose random password is in
DIR/admin.secret.  Users' mailboxes are not created here: the tool creates
`user/<name>` as admin and then logs in as the user through SASL PLAIN
authorization.  Sieve's outgoing mail (redirect, vacation, reject) goes to a
recorder that keeps one file per message in DIR/outbox/ instead of sending it.

Postfix reads its routing from DIR/routing.sqlite through sqlite: maps, which
run one query per lookup, so rows the tool writes take effect without a
reload.  The master.cf service `oldsite` stands for the old Sendmail host: it
appends to the mbox file named by the old_mailbox table.

`start` writes DIR/servers.toml, the one file clients read to find all this.
Only the standard library is used, so the script runs before the project is
installed; if a server binary is missing it runs scripts/install-deps.sh.
Must run as root (both servers drop to their own users).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import grp
import json
import os
import pwd
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
IMAP_PORT = 11143
# A second imapd on the same mailboxes that hides MULTIAPPEND and LITERAL+, so the
# copy engine's one-APPEND-per-message path is tested against the real server.
PLAIN_IMAP_PORT = 11144
SUPPRESSED_CAPABILITIES = "MULTIAPPEND LITERAL+"
# A third imapd on the same mailboxes with a small maxmessagesize (advertised as
# APPENDLIMIT), so refusing oversized messages is tested against the real server.
LIMITED_IMAP_PORT = 11145
LIMITED_MESSAGE_SIZE = 262144
SIEVE_PORT = 14190
LMTP_PORT = 12024
SMTP_PORT = 12525
ADMIN = "mmadmin"
# Cyrus's name for itself; it is also the SASL realm the admin's secret is
# kept under in the sasldb, so it must not depend on the machine's host name.
SERVERNAME = "cyrus.sandbox.invalid"
LMTP_TRANSPORT = f"lmtp:inet:{HOST}:{LMTP_PORT}"
OLD_TRANSPORT = "oldsite:"
# Who the oldsite service appends to old mbox spools as.
SPOOL_USER = "mail"
SPOOL_GROUP = "mail"

CYRUS_BIN = Path("/usr/lib/cyrus/bin")
CYRUS_MASTER = CYRUS_BIN / "master"
SASLPASSWD = Path("/usr/sbin/saslpasswd2")
POSTFIX = Path("/usr/sbin/postfix")
REQUIRED_BINARIES = (CYRUS_MASTER, CYRUS_BIN / "imapd", CYRUS_BIN / "timsieved",
                     CYRUS_BIN / "lmtpd", SASLPASSWD, POSTFIX,
                     Path("/usr/lib/postfix/sbin/virtual"),
                     Path("/usr/lib/postfix/postfix-sqlite.so"))
REPO = Path(__file__).resolve().parents[2]
INSTALL_DEPS = REPO / "scripts" / "install-deps.sh"

# What Cyrus 3.6 on Debian 12 accepts (cyr_info conf-lint is silent on this
# list); every extension a procmail translation may need is included.
SIEVE_EXTENSIONS = (
    "fileinto reject vacation vacation-seconds notify include envelope environment body "
    "relational regex subaddress copy date index imap4flags mailbox mboxmetadata "
    "servermetadata variables editheader extlists duplicate ihave fcc special-use "
    "redirect-dsn redirect-deliverby mailboxid"
)

ROUTING_SCHEMA = """
CREATE TABLE IF NOT EXISTS domains(domain TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS transport(domain TEXT PRIMARY KEY, transport TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS virtual_alias(address TEXT PRIMARY KEY, target TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS old_mailbox(address TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS virtual_alias_domains(domain TEXT PRIMARY KEY);
"""

# One sqlite: lookup file per Postfix map; %s is the lookup key.
SQLITE_MAPS = {
    "relay_domains.cf": "SELECT domain FROM domains WHERE domain = '%s'",
    "transport.cf": "SELECT transport FROM transport WHERE domain = '%s'",
    "virtual_alias.cf": "SELECT target FROM virtual_alias WHERE address = '%s'",
    "virtual_alias_domains.cf": "SELECT domain FROM virtual_alias_domains WHERE domain = '%s'",
    # virtual(8) prefixes virtual_mailbox_base ("/") itself.
    "old_mailbox.cf": "SELECT ltrim(path, '/') FROM old_mailbox WHERE address = '%s'",
}

RECORDER = """#!/usr/bin/python3
\"\"\"Stand-in for sendmail(1): record what Sieve sends instead of sending it.

Cyrus 3.6 runs its `sendmail` option as `sendmail -bs` and speaks SMTP on
standard input/output (smtp_backend: sendmail).  This answers that dialogue
and keeps each message as one file in the outbox: a first line of JSON
{{"argv": [...], "mail_from": "...", "rcpt_to": [...]}}, then the message as
received (dot-unstuffed, CRLF line ends as sent).
\"\"\"
import json
import os
import sys
import time

OUTBOX = {outbox!r}
rfile, wfile = sys.stdin.buffer, sys.stdout.buffer


def reply(text):
    wfile.write(text.encode() + b"\\r\\n")
    wfile.flush()


def save(mail_from, rcpt_to, data):
    name = "%d-%d" % (time.time_ns(), os.getpid())
    tmp = os.path.join(OUTBOX, "." + name + ".tmp")
    head = {{"argv": sys.argv, "mail_from": mail_from, "rcpt_to": rcpt_to}}
    with open(tmp, "wb") as out:
        out.write(json.dumps(head).encode() + b"\\n")
        out.write(data)
    os.rename(tmp, os.path.join(OUTBOX, name + ".msg"))


def address(arg):
    arg = arg.split(":", 1)[1].strip() if ":" in arg else arg
    return arg.split(">", 1)[0].lstrip("<").strip() if arg.startswith("<") else arg.split()[0]


mail_from, rcpt_to = None, []
reply("220 sandbox recorder ESMTP")
for raw in iter(rfile.readline, b""):
    line = raw.decode("utf-8", "replace").rstrip("\\r\\n")
    verb = line[:4].upper()
    if verb in ("EHLO", "HELO"):
        reply("250-sandbox recorder\\r\\n250-8BITMIME\\r\\n250 SMTPUTF8" if verb == "EHLO"
              else "250 sandbox recorder")
    elif verb == "MAIL":
        mail_from, rcpt_to = address(line), []
        reply("250 2.1.0 Ok")
    elif verb == "RCPT":
        rcpt_to.append(address(line))
        reply("250 2.1.5 Ok")
    elif verb == "DATA":
        reply("354 End data with <CR><LF>.<CR><LF>")
        chunks = []
        for data in iter(rfile.readline, b""):
            if data.rstrip(b"\\r\\n") == b".":
                break
            chunks.append(data[1:] if data.startswith(b".") else data)
        save(mail_from, rcpt_to, b"".join(chunks))
        mail_from, rcpt_to = None, []
        reply("250 2.0.0 Ok: recorded")
    elif verb == "RSET":
        mail_from, rcpt_to = None, []
        reply("250 2.0.0 Ok")
    elif verb == "NOOP":
        reply("250 2.0.0 Ok")
    elif verb == "QUIT":
        reply("221 2.0.0 Bye")
        break
    else:
        reply("502 5.5.2 Command not recognized")
"""


class SandboxError(Exception):
    """A condition that stops start/stop, with a message for the operator."""


@dataclass(frozen=True)
class Layout:
    """Every path the sandbox uses, derived from its one directory."""

    root: Path

    @property
    def cyrus(self) -> Path:
        return self.root / "cyrus"

    @property
    def imapd_conf(self) -> Path:
        return self.root / "etc" / "imapd.conf"

    @property
    def plain_imapd_conf(self) -> Path:
        return self.root / "etc" / "imapd-plain.conf"

    @property
    def limited_imapd_conf(self) -> Path:
        return self.root / "etc" / "imapd-limited.conf"

    @property
    def cyrus_conf(self) -> Path:
        return self.root / "etc" / "cyrus.conf"

    @property
    def sasldb(self) -> Path:
        return self.cyrus / "sasldb2"

    @property
    def master_pid(self) -> Path:
        return self.cyrus / "master.pid"

    @property
    def secret(self) -> Path:
        return self.root / "admin.secret"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def recorder(self) -> Path:
        return self.root / "bin" / "sendmail-recorder"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def postfix(self) -> Path:
        return self.root / "postfix"

    @property
    def postfix_queue(self) -> Path:
        return self.root / "postfix-queue"

    @property
    def postfix_data(self) -> Path:
        return self.root / "postfix-data"

    @property
    def routing(self) -> Path:
        return self.root / "routing.sqlite"

    @property
    def servers_toml(self) -> Path:
        return self.root / "servers.toml"


# ---------------------------------------------------------------- ports


def port_answers(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection on HOST:port."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def listener_of(port: int) -> str:
    """Describe the process listening on a TCP port ("pid 12 (imapd)"), or "".

    Reads /proc: the socket inode from /proc/net/tcp{,6}, then the process
    holding that inode among /proc/*/fd.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return ""
    holders: dict[int, tuple[int, str]] = {}  # pid -> (parent pid, command)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                holders[int(proc.name)] = (ppid, (proc / "comm").read_text().strip())
        except (OSError, ValueError, IndexError):
            continue
    # Children of a server (Cyrus's imapd under master) inherit its socket:
    # name the process that owns it, the one whose parent does not hold it.
    for pid, (ppid, comm) in sorted(holders.items()):
        if ppid not in holders:
            return f"pid {pid} ({comm})"
    return ""


def wait_for_ports(ports: list[int], timeout: float = 30.0) -> None:
    """Block until every port answers, or raise naming the ones that do not."""
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if not port_answers(p)]
        if pending:
            time.sleep(0.2)
    if pending:
        raise SandboxError(f"ports {pending} on {HOST} did not answer within {timeout:.0f}s")


def refuse_taken(ports: list[int]) -> None:
    """Raise when a port we are about to bind is held by another program."""
    for port in ports:
        if port_answers(port):
            who = listener_of(port)
            holder = f" by {who}" if who else ""
            raise SandboxError(f"port {HOST}:{port} is already in use{holder}; "
                               "stop that program or the other sandbox first")


# ---------------------------------------------------------------- helpers


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command, turning a failure into a SandboxError with its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise SandboxError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()}")
    return proc


def write_if_changed(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write a file only when its content differs, so re-runs touch nothing; True if written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    changed = not path.exists() or path.read_text() != text
    if changed:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.replace(path)
    path.chmod(mode)
    return changed


def make_dir(path: Path, owner: str = "root", group: str = "root", mode: int = 0o755) -> None:
    """Create a directory with the given owner and mode (idempotent)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
    path.chmod(mode)


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (zombies count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def refuse_closed_parents(root: Path) -> None:
    """Raise when the cyrus and postfix users could not reach the directory.

    Both servers run under their own users, so every directory above DIR must
    be searchable by others (pytest's tmp_path, mode 0700, is not).
    """
    for parent in root.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise SandboxError(f"{parent} is not searchable by other users (mode "
                               f"{parent.stat().st_mode & 0o777:o}); the cyrus and postfix "
                               "users could not reach the sandbox: choose another --dir")


def ensure_binaries() -> None:
    """Install the Debian packages when any server binary is missing."""
    missing = [str(b) for b in REQUIRED_BINARIES if not b.exists()]
    if not missing:
        return
    print(f"missing {', '.join(missing)}; running {INSTALL_DEPS}", file=sys.stderr)
    if subprocess.run(["sh", str(INSTALL_DEPS)]).returncode != 0:
        raise SandboxError(f"{INSTALL_DEPS} failed")
    still = [str(b) for b in REQUIRED_BINARIES if not b.exists()]
    if still:
        raise SandboxError(f"still missing after install: {', '.join(still)}")


# ---------------------------------------------------------------- Cyrus


def imapd_conf(lay: Layout) -> str:
    """The private imapd.conf: every path under DIR, namespace as the tool expects."""
    c = lay.cyrus
    return f"""\
# Cyrus IMAP 3.6 sandbox configuration (written by sandbox.py).
configdirectory: {c}/config
defaultpartition: default
partition-default: {c}/spool
sievedir: {c}/sieve
proc_path: {c}/run/proc
mboxname_lockpath: {c}/run/lock
lmtpsocket: {c}/socket/lmtp
idlesocket: {c}/socket/idle
notifysocket: {c}/socket/notify
syslog_prefix: mailmigrate-sandbox
servername: {SERVERNAME}
admins: {ADMIN}
altnamespace: no
unixhierarchysep: yes
virtdomains: off
lmtp_downcase_rcpt: yes
allowplaintext: yes
allowanonymouslogin: no
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {lay.sasldb}
sasl_mech_list: PLAIN LOGIN
sieve_extensions: {SIEVE_EXTENSIONS}
sendmail: {lay.recorder}
sieveusehomedir: false
hashimapspool: true
umask: 077
# Tests and benchmarks create and delete thousands of users: Cyrus's default (delayed)
# keeps every deleted mailbox on disk and in mailboxes.db, which grows without end.
delete_mode: immediate
expunge_mode: immediate
"""


def plain_imapd_conf(lay: Layout) -> str:
    """The second imapd's config: the same server, without MULTIAPPEND and LITERAL+.

    Cyrus has no include directive, so it repeats the main file; with the
    same configdirectory and partition it serves the very same mailboxes.
    """
    return imapd_conf(lay) + f"suppress_capabilities: {SUPPRESSED_CAPABILITIES}\n"


def limited_imapd_conf(lay: Layout) -> str:
    """The third imapd's config: the same server, refusing messages over a quarter MiB."""
    return imapd_conf(lay) + f"maxmessagesize: {LIMITED_MESSAGE_SIZE}\n"


def cyrus_conf(lay: Layout) -> str:
    """The private cyrus.conf: four loopback services and the housekeeping."""
    conf = f"-C {lay.imapd_conf}"
    plain = f"-C {lay.plain_imapd_conf}"
    limited = f"-C {lay.limited_imapd_conf}"
    b = CYRUS_BIN
    return f"""\
# Cyrus master services for the sandbox (written by sandbox.py).
START {{
  recover cmd="{b}/ctl_cyrusdb {conf} -r"
}}
SERVICES {{
  imap  cmd="{b}/imapd {conf} -U 30" listen="{HOST}:{IMAP_PORT}" prefork=0 maxchild=50
  imapplain cmd="{b}/imapd {plain} -U 30" listen="{HOST}:{PLAIN_IMAP_PORT}" prefork=0 maxchild=10
  imaplimited cmd="{b}/imapd {limited} -U 30" listen="{HOST}:{LIMITED_IMAP_PORT}" prefork=0\
 maxchild=10
  sieve cmd="{b}/timsieved {conf}" listen="{HOST}:{SIEVE_PORT}" prefork=0 maxchild=20
  lmtp  cmd="{b}/lmtpd {conf} -a" listen="{HOST}:{LMTP_PORT}" prefork=0 maxchild=20
}}
EVENTS {{
  checkpoint cmd="{b}/ctl_cyrusdb {conf} -c" period=30
}}
"""


def prepare_cyrus(lay: Layout) -> None:
    """Write Cyrus's config, directories, recorder and admin credentials."""
    make_dir(lay.root / "etc")
    for sub in ("", "config", "config/db", "config/socket", "spool", "sieve", "run",
                "run/proc", "run/lock", "socket"):
        make_dir(lay.cyrus / sub, "cyrus", "mail", 0o750 if sub else 0o755)
    make_dir(lay.outbox, "cyrus", "mail", 0o755)
    make_dir(lay.log, "root", "root", 0o755)
    write_if_changed(lay.recorder, RECORDER.format(outbox=str(lay.outbox)), 0o755)
    write_if_changed(lay.imapd_conf, imapd_conf(lay))
    write_if_changed(lay.plain_imapd_conf, plain_imapd_conf(lay))
    write_if_changed(lay.limited_imapd_conf, limited_imapd_conf(lay))
    write_if_changed(lay.cyrus_conf, cyrus_conf(lay))
    if not lay.secret.exists():
        fd = os.open(lay.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    lay.secret.chmod(0o600)
    password = lay.secret.read_text().strip()
    run([str(SASLPASSWD), "-f", str(lay.sasldb), "-u", SERVERNAME, "-c", "-p", ADMIN],
        input=password)
    os.chown(lay.sasldb, pwd.getpwnam("cyrus").pw_uid, grp.getgrnam("mail").gr_gid)
    lay.sasldb.chmod(0o640)


def cyrus_pid(lay: Layout) -> int | None:
    """The pid of our Cyrus master when it runs, else None."""
    try:
        pid = int(lay.master_pid.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return pid if str(lay.cyrus_conf).encode() in cmdline else None


def start_cyrus(lay: Layout) -> None:
    """Start Cyrus master as a daemon and wait for its three ports."""
    prepare_cyrus(lay)
    run([str(CYRUS_MASTER), "-C", str(lay.imapd_conf), "-M", str(lay.cyrus_conf),
         "-p", str(lay.master_pid), "-d", "-L", str(lay.log / "cyrus-master.log")])
    wait_for_ports([IMAP_PORT, PLAIN_IMAP_PORT, LIMITED_IMAP_PORT, SIEVE_PORT, LMTP_PORT])


def add_missing_services(lay: Layout, pid: int) -> None:
    """Give a running master the services a newer sandbox.py defines (SIGHUP rereads
    cyrus.conf and starts new services; the running ones are left alone)."""
    missing = [p for p in (PLAIN_IMAP_PORT, LIMITED_IMAP_PORT) if not port_answers(p)]
    if not missing:
        return
    refuse_taken(missing)
    prepare_cyrus(lay)
    os.kill(pid, signal.SIGHUP)
    wait_for_ports(missing)


def stop_cyrus(lay: Layout) -> bool:
    """Stop our Cyrus master (it takes its children along); False if not running."""
    pid = cyrus_pid(lay)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    lay.master_pid.unlink(missing_ok=True)
    return True


# ---------------------------------------------------------------- Postfix


def main_cf(lay: Layout) -> str:
    """The private main.cf: loopback only, no local delivery, routing from SQLite."""
    maps = lay.postfix
    return f"""\
# Postfix sandbox instance (written by sandbox.py).
compatibility_level = 3.6
queue_directory = {lay.postfix_queue}
data_directory = {lay.postfix_data}
maillog_file = {lay.log}/postfix.log
maillog_file_prefixes = {lay.log}
myhostname = mx.sandbox.invalid
mydomain = sandbox.invalid
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in the sandbox
alias_maps =
alias_database =
recipient_delimiter = +
relay_domains = sqlite:{maps}/relay_domains.cf
transport_maps = sqlite:{maps}/transport.cf
virtual_alias_maps = sqlite:{maps}/virtual_alias.cf
virtual_alias_domains = sqlite:{maps}/virtual_alias_domains.cf
relay_transport = error:5.3.5 no transport row for this domain
default_transport = error:5.7.1 the sandbox delivers nowhere else
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
disable_dns_lookups = yes
smtp_host_lookup = native
lmtp_host_lookup = native
message_size_limit = 104857600
bounce_queue_lifetime = 1h
maximal_queue_lifetime = 1h
"""


def master_cf(lay: Layout) -> str:
    """The private master.cf: one SMTP listener, no chroot, and the oldsite service."""
    return f"""\
# Postfix sandbox services (written by sandbox.py). Nothing is chrooted, so
# the sqlite: maps can read {lay.routing}.
{HOST}:{SMTP_PORT} inet n - n - - smtpd
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
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# The old Sendmail host: append to the mbox file that old_mailbox names.
# virtual(8) refuses to deliver as root (virtual_minimum_uid >= 1), so it
# writes as user and group "mail", like a Debian /var/mail spool expects:
# the mbox file must be writable by group mail (USER:mail or root:mail, 0660);
# its owner need not match, hence strict_mailbox_ownership=no.
# fcntl locking only: a dot-lock would need write access to the directory.
oldsite   unix  -       n       n       -       -       virtual
  -o virtual_mailbox_maps=sqlite:{lay.postfix}/old_mailbox.cf
  -o virtual_mailbox_base=/
  -o virtual_uid_maps=static:{pwd.getpwnam(SPOOL_USER).pw_uid}
  -o virtual_gid_maps=static:{grp.getgrnam(SPOOL_GROUP).gr_gid}
  -o virtual_minimum_uid=1
  -o strict_mailbox_ownership=no
  -o virtual_mailbox_lock=fcntl
  -o virtual_mailbox_limit=0
"""


def sqlite_map(lay: Layout, query: str) -> str:
    """One sqlite_table(5) file: which database, which query."""
    return f"dbpath = {lay.routing}\nquery = {query}\n"


def prepare_routing(lay: Layout) -> None:
    """Create the routing database and its tables when missing; keep its rows."""
    with sqlite3.connect(lay.routing) as db:
        db.executescript(ROUTING_SCHEMA)
    db.close()
    lay.routing.chmod(0o644)


def write_postfix_config(lay: Layout) -> bool:
    """Write the routing database, the map files and main.cf/master.cf; True if any changed.

    In that order: a map in main.cf whose table or file is missing would make
    every lookup fail (mail deferred) until the rest is written.
    """
    prepare_routing(lay)
    changed = False
    for name, query in SQLITE_MAPS.items():
        changed |= write_if_changed(lay.postfix / name, sqlite_map(lay, query))
    changed |= write_if_changed(lay.postfix / "master.cf", master_cf(lay))
    changed |= write_if_changed(lay.postfix / "main.cf", main_cf(lay))
    return changed


def prepare_postfix(lay: Layout) -> None:
    """Write Postfix's config, queue and data directories, and the routing database."""
    make_dir(lay.postfix)
    make_dir(lay.postfix_queue)
    make_dir(lay.postfix_data, "postfix", "postfix", 0o700)
    make_dir(lay.log)
    write_postfix_config(lay)
    run([str(POSTFIX), "-c", str(lay.postfix), "set-permissions", "create-missing"])


def update_postfix(lay: Layout) -> None:
    """Give a running Postfix the maps a newer sandbox.py defines (rows are kept).

    ``postfix reload`` makes the daemons re-read main.cf as they finish their
    work: nothing queued or in flight is lost.
    """
    if write_postfix_config(lay):
        run([str(POSTFIX), "-c", str(lay.postfix), "reload"])


def postfix_running(lay: Layout) -> bool:
    """True when our Postfix instance's master runs."""
    if not (lay.postfix / "main.cf").exists():
        return False
    proc = subprocess.run([str(POSTFIX), "-c", str(lay.postfix), "status"],
                          capture_output=True, text=True)
    return proc.returncode == 0


def start_postfix(lay: Layout) -> None:
    """Start the Postfix instance and wait for its SMTP port."""
    prepare_postfix(lay)
    run([str(POSTFIX), "-c", str(lay.postfix), "start"])
    wait_for_ports([SMTP_PORT])


def stop_postfix(lay: Layout) -> bool:
    """Stop our Postfix instance; False if it was not running."""
    if not postfix_running(lay):
        return False
    run([str(POSTFIX), "-c", str(lay.postfix), "stop"])
    deadline = time.monotonic() + 20
    while port_answers(SMTP_PORT) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------- commands


def servers_toml(lay: Layout) -> str:
    """What clients need to reach the sandbox, in the project's config format."""
    return f"""\
[cyrus]
host = "{HOST}"
imap_port = {IMAP_PORT}
sieve_port = {SIEVE_PORT}
admin = "{ADMIN}"
password_file = "{lay.secret}"
lmtp_transport = "{LMTP_TRANSPORT}"
outbox = "{lay.outbox}"

[postfix]
config_dir = "{lay.postfix}"
smtp_host = "{HOST}"
smtp_port = {SMTP_PORT}
routing_db = "{lay.routing}"
old_transport = "{OLD_TRANSPORT}"
"""


def status_of(lay: Layout) -> dict:
    """What runs, as a JSON-able dict."""
    pid = cyrus_pid(lay)
    ports = {"imap": IMAP_PORT, "imap-plain": PLAIN_IMAP_PORT,
             "imap-limited": LIMITED_IMAP_PORT, "sieve": SIEVE_PORT,
             "lmtp": LMTP_PORT, "smtp": SMTP_PORT}
    return {
        "dir": str(lay.root),
        "cyrus": {"running": pid is not None, "pid": pid},
        "postfix": {"running": postfix_running(lay)},
        "ports": {name: {"port": port, "answers": port_answers(port)}
                  for name, port in ports.items()},
        "servers_toml": str(lay.servers_toml) if lay.servers_toml.exists() else None,
    }


def cmd_start(lay: Layout) -> int:
    """Start whatever is not running yet; say so when everything already runs."""
    if os.geteuid() != 0:
        raise SandboxError("start must run as root (Cyrus and Postfix drop privileges)")
    pid = cyrus_pid(lay)
    cyrus_up = pid is not None
    postfix_up = postfix_running(lay)
    if pid is not None:
        add_missing_services(lay, pid)
    if postfix_up:
        update_postfix(lay)
    if cyrus_up and postfix_up:
        write_if_changed(lay.servers_toml, servers_toml(lay))
        print(f"sandbox already running in {lay.root}")
        return 0
    refuse_closed_parents(lay.root)
    ensure_binaries()
    if not cyrus_up:
        refuse_taken([IMAP_PORT, PLAIN_IMAP_PORT, LIMITED_IMAP_PORT, SIEVE_PORT, LMTP_PORT])
    if not postfix_up:
        refuse_taken([SMTP_PORT])
    make_dir(lay.root)
    if not cyrus_up:
        start_cyrus(lay)
    if not postfix_up:
        try:
            start_postfix(lay)
        except SandboxError:
            if not cyrus_up:
                stop_cyrus(lay)
            raise
    write_if_changed(lay.servers_toml, servers_toml(lay))
    print(f"sandbox running in {lay.root}: IMAP {HOST}:{IMAP_PORT} (and {PLAIN_IMAP_PORT} "
          f"without {SUPPRESSED_CAPABILITIES}, {LIMITED_IMAP_PORT} with maxmessagesize "
          f"{LIMITED_MESSAGE_SIZE}), "
          f"ManageSieve {HOST}:{SIEVE_PORT}, LMTP {HOST}:{LMTP_PORT}, "
          f"SMTP {HOST}:{SMTP_PORT}; settings in {lay.servers_toml}")
    return 0


def cmd_stop(lay: Layout) -> int:
    """Stop both servers; nothing to do when neither runs."""
    stopped = [name for name, stop in (("postfix", stop_postfix), ("cyrus", stop_cyrus))
               if stop(lay)]
    print(f"stopped {', '.join(stopped)}" if stopped else "sandbox not running")
    return 0


def cmd_status(lay: Layout, as_json: bool) -> int:
    """Print what runs; exit 0 when both servers run, 3 otherwise."""
    st = status_of(lay)
    if as_json:
        print(json.dumps(st, indent=2))
    else:
        cy = f"running (pid {st['cyrus']['pid']})" if st["cyrus"]["running"] else "stopped"
        pf = "running" if st["postfix"]["running"] else "stopped"
        print(f"dir      {st['dir']}")
        print(f"cyrus    {cy}")
        print(f"postfix  {pf}")
        for name, p in st["ports"].items():
            print(f"  {name:10} {HOST}:{p['port']} {'answers' if p['answers'] else 'closed'}")
    both = st["cyrus"]["running"] and st["postfix"]["running"]
    return 0 if both else 3


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Serialise start and stop across processes.

    The ports are the machine's, not the directory's, so the lock is too:
    two test runs that start the sandbox at once must not both launch it.
    """
    lock_dir = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/var/tmp")
    with open(lock_dir / "mailmigrate-sandbox.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def default_dir() -> str:
    """The sandbox directory: $MAILMIGRATE_SANDBOX, else a fixed path under /var/tmp."""
    return os.environ.get("MAILMIGRATE_SANDBOX") or "/var/tmp/mailmigrate-sandbox"


def main(argv: list[str] | None = None) -> int:
    """Command line entry: start, stop or status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--dir", default=default_dir(),
                        help="sandbox directory (default: $MAILMIGRATE_SANDBOX or "
                             "/var/tmp/mailmigrate-sandbox)")
    parser.add_argument("--json", action="store_true", help="status as JSON")
    args = parser.parse_args(argv)
    lay = Layout(Path(args.dir).resolve())
    try:
        if args.command == "start":
            with exclusive():
                return cmd_start(lay)
        if args.command == "stop":
            with exclusive():
                return cmd_stop(lay)
        return cmd_status(lay, args.json)
    except SandboxError as err:
        print(f"sandbox: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
