"""Ask the real sendmail 8.17 what the old site did with an address (``sendmail -bv``).

``converters.sendmail.resolve`` is our model of sendmail; this module is the
judge of that model.  The binary comes unpacked, not installed
(``scripts/install-sendmail-oracle.sh``: it conflicts with Postfix).

How one run is set up, and why:

* a work directory under ``/var/lib/mailmigrate/sendmail-oracle`` (root-owned,
  not world-writable: sendmail refuses maps and alias files whose directory
  chain others could write, which rules out /tmp and /var/tmp);
* a copy of the site's ``/etc/mail`` there, its hash maps built with the
  unpacked ``makemap``; inside a private mount namespace the copy is mounted
  on ``/etc/mail``, so the paths the site's files name (``:include:
  /etc/mail/lists/staff``) resolve to the copy (a host without /etc/mail
  gets an empty one as the mount point), and the site's passwd is mounted on
  ``/etc/passwd`` (the local mailer checks users with getpwnam);
* a small .mc built from the site's sendmail.mc: the macros that decide
  routing (class w and VirtHost, virtusertable, mailertable, local_procmail,
  smrsh, virtuser_entire_domain, the domain name), and, as written, every
  routing macro the translation does not reproduce (``mc.unreproduced``:
  LUSER_RELAY, MAIL_HUB, FEATURE(domaintable), ...); ``.forward`` files are
  switched off (``confFORWARD_PATH`` empty) because they belong to the
  per-user filter translation, not to the tables;
* a UTS namespace whose host name is the site's (qualified) name, and a
  service switch file and nsswitch.conf that use local files only: with an
  unqualified name or a DNS lookup sendmail waits a minute at start;
* the site's ALIAS_FILE list as it is, every file in its order (those
  outside /etc/mail copied into the work directory), so the oracle never
  shares the reader's idea of which aliases count;
* links in the copy of /etc/mail are replaced by what they named in the old
  tree (Debian's ``aliases -> /etc/aliases``), never by this machine's files;
* ``sendmail -bi`` builds the alias databases as sendmail itself does
  (duplicates: the last definition wins, with a warning), then one
  ``sendmail -bv ADDR`` per address; each line of output is one end point.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from converters.sendmail.mc import McConfig, parse_mc
from converters.sendmail.textfile import old_path, read_text

SENDMAIL_ROOT = Path(os.environ.get("MAILMIGRATE_SENDMAIL_ROOT", "/opt/mailmigrate/sendmail"))
WORK_ROOT = Path("/var/lib/mailmigrate/sendmail-oracle")
BIN = "usr/libexec/sendmail"
CF_DIR = "usr/share/sendmail/cf"
#: Features that change how an address is routed; the rest (access, milters,
#: rate limits, masquerading) act on sessions or headers, not on -bv.
ROUTING_FEATURES = ("use_cw_file", "virtusertable", "mailertable", "virtuser_entire_domain",
                    "local_procmail", "smrsh")
MAPS = ("virtusertable", "mailertable", "domaintable")
_LINE = re.compile(r"^(?P<addr>.*?)\.\.\. (?P<rest>.*)$")
_DELIVERABLE = re.compile(r"^deliverable: mailer (?P<mailer>[^,]+)"
                          r"(?:, host (?P<host>.*?))?, user (?P<user>.*)$")
_SEP = "=mailmigrate-address="


@dataclass(frozen=True)
class SendmailVerdict:
    """One line of ``sendmail -bv``: an end point (mailer, host, user) or an error text."""

    address: str
    mailer: str | None
    host: str | None
    user: str | None
    error: str | None


def available() -> bool:
    """True when the unpacked sendmail and the tools around it are there."""
    return ((SENDMAIL_ROOT / BIN / "sendmail").is_file() and shutil.which("m4") is not None
            and shutil.which("unshare") is not None and os.geteuid() == 0)


def parse_bv(output: str) -> list[SendmailVerdict]:
    """The verdict lines of one ``sendmail -bv`` run; a line naming no address is an error."""
    out: list[SendmailVerdict] = []
    for line in output.splitlines():
        m = _LINE.match(line)
        if not m:
            # "aliasing/forwarding loop broken" names no address
            if line.strip():
                out.append(SendmailVerdict("", None, None, None, line.strip()))
            continue
        d = _DELIVERABLE.match(m["rest"])
        if d:
            out.append(SendmailVerdict(m["addr"], d["mailer"].strip(), d["host"], d["user"],
                                       None))
        else:
            out.append(SendmailVerdict(m["addr"], None, None, None, m["rest"].strip()))
    return out


def _q(text: str) -> str:
    return f"`{text}'"


def oracle_mc(mc: McConfig, hostname: str, work: Path, alias_files: list[str]) -> str:
    """The .mc: the site's routing macros, every file of this run in ``work``.

    ``alias_files`` is the site's ALIAS_FILE list, in its order, as paths of
    this run (the copy mounted on /etc/mail, or a copy in ``work``).
    """
    lines = [
        "divert(-1)",
        f"define(`_CF_DIR_', {_q(str(SENDMAIL_ROOT / CF_DIR) + '/')})",
        "divert(0)dnl",
        f"include({_q(str(SENDMAIL_ROOT / CF_DIR / 'm4' / 'cf.m4'))})dnl",
        # not the site's OSTYPE(debian): it includes a file from /usr/share/sendmail,
        # outside the unpacked tree; the mailer paths it sets do not change -bv
        "OSTYPE(`linux')dnl",
        f"define(`confDOMAIN_NAME', {_q(hostname)})dnl",
        f"define(`ALIAS_FILE', {_q(','.join(alias_files))})dnl",
        f"define(`QUEUE_DIR', {_q(str(work / 'queue'))})dnl",
        f"define(`confPID_FILE', {_q(str(work / 'sendmail.pid'))})dnl",
        f"define(`STATUS_FILE', {_q(str(work / 'sendmail.st'))})dnl",
        f"define(`HELP_FILE', {_q(str(work / 'helpfile'))})dnl",
        f"define(`confSERVICE_SWITCH_FILE', {_q(str(work / 'service.switch'))})dnl",
        f"define(`confHOSTS_FILE', {_q(str(work / 'hosts'))})dnl",
        "define(`confFORWARD_PATH', `')dnl",
        "define(`confDONT_PROBE_INTERFACES', `True')dnl",
        "undefine(`confHOST_STATUS_DIRECTORY')dnl",
    ]
    if "confCW_FILE" in mc.defines:
        lines.append(f"define(`confCW_FILE', {_q(mc.defines['confCW_FILE'])})dnl")
    for feature in ROUTING_FEATURES:
        if feature in mc.features:
            args = "".join(f", {_q(a)}" for a in mc.features[feature])
            lines.append(f"FEATURE({_q(feature)}{args})dnl")
    for macro, values in (("VIRTUSER_DOMAIN", mc.virtuser_domains),
                          ("VIRTUSER_DOMAIN_FILE", mc.virtuser_domain_files),
                          ("LOCAL_DOMAIN", mc.local_domains)):
        for value in values:
            arg = "-o " + value if macro.endswith("_FILE") else value
            lines.append(f"{macro}({_q(arg)})dnl")
    # What the translation does not reproduce goes to the real sendmail as written,
    # so a difference it makes shows in the check instead of hiding behind the reader.
    lines += [f"{macro}dnl" for macro in mc.unreproduced
              if not macro.startswith(tuple(f"FEATURE(`{f}'" for f in ROUTING_FEATURES))]
    lines += ["MAILER(`local')dnl", "MAILER(`smtp')dnl"]
    return "\n".join(lines) + "\n"


class SendmailOracle:
    """A prepared sendmail for one old site; ``verify(addresses)`` runs ``-bv`` per address.

    Use as a context manager: the work directory is removed on exit.
    """

    def __init__(self, site_root: Path, hostname: str):
        self.site_root = Path(site_root)
        self.hostname = hostname if "." in hostname else f"{hostname or 'mail'}.invalid"
        self.work: Path | None = None
        self.warnings = ""

    def __enter__(self) -> SendmailOracle:
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        for own in (WORK_ROOT, WORK_ROOT.parent):
            own.chmod(own.stat().st_mode & ~0o022)
        self.work = Path(tempfile.mkdtemp(dir=WORK_ROOT))
        self.work.chmod(0o755)
        try:
            self._prepare()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work = None

    def _prepare(self) -> None:
        work = self.work
        assert work is not None
        etc_mail = work / "etc-mail"
        source = self.site_root / "etc" / "mail"
        if source.is_dir():
            shutil.copytree(source, etc_mail, symlinks=True)
            self._resolve_links(etc_mail)
        else:
            etc_mail.mkdir()
        for path in etc_mail.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        mc, _ = parse_mc(read_text(self.site_root, "/etc/mail/sendmail.mc"))
        aliases: list[str] = []
        for n, path in enumerate(mc.alias_files()[0]):
            if path.startswith("/etc/mail/"):
                aliases.append(path)
                continue
            # outside /etc/mail: a copy here (sendmail -bi writes its .db beside it)
            source_file = read_text(self.site_root, path)
            aliases.append(str(work / f"aliases-{n}"))
            Path(aliases[-1]).write_text("".join(ln.text + "\n" for ln in source_file.lines))
        (work / "queue").mkdir(mode=0o700)
        (work / "helpfile").write_text("")
        (work / "service.switch").write_text("hosts files\naliases files\npasswd files\n")
        (work / "hosts").write_text(f"127.0.0.1 {self.hostname} "
                                    f"{self.hostname.split('.')[0]} localhost\n")
        (work / "nsswitch.conf").write_text(
            "passwd: files\ngroup: files\nshadow: files\nhosts: files\n")
        passwd = self.site_root / "etc" / "passwd"
        (work / "passwd").write_text(passwd.read_text(errors="replace") if passwd.is_file()
                                     else "root:x:0:0:root:/root:/bin/sh\n")
        (work / "group").write_text("root:x:0:\nmail:x:8:\n")
        (work / "oracle.mc").write_text(oracle_mc(mc, self.hostname, work, aliases))
        cf = subprocess.run(["m4", str(work / "oracle.mc")], capture_output=True, text=True,
                            check=False)
        if cf.returncode != 0 or not cf.stdout:
            raise OSError(f"m4 could not build sendmail.cf: {cf.stderr.strip()}")
        (work / "sendmail.cf").write_text(cf.stdout)
        for feature in MAPS:
            path = mc.map_file(feature)
            if path and path.startswith("/etc/mail/"):
                text_file = etc_mail / path[len("/etc/mail/"):]
                if text_file.is_file():
                    self._makemap(text_file)
        bi = self._run(["-bi"])
        self.warnings += bi.stdout + bi.stderr

    def _resolve_links(self, etc_mail: Path) -> None:
        """Replace each link of the copy by what it named on the old host (an absolute
        target is in the old tree, never this machine's file); a link to nothing goes."""
        for link in [p for p in etc_mail.rglob("*") if p.is_symlink()]:
            target = old_path(self.site_root, "/etc/mail/" + link.relative_to(etc_mail).as_posix())
            link.unlink()
            if target.is_dir():
                shutil.copytree(target, link, symlinks=False)
            elif target.is_file():
                shutil.copyfile(target, link)

    def _makemap(self, text_file: Path) -> None:
        """``makemap hash`` as the admin ran it: a duplicate key is reported (exit 65)
        and the first value kept, and the map is still built."""
        assert self.work is not None
        with text_file.open("rb") as source:
            proc = subprocess.run([str(SENDMAIL_ROOT / BIN / "makemap"), "-C",
                                   str(self.work / "sendmail.cf"), "hash", str(text_file)],
                                  stdin=source, capture_output=True, text=True, check=False)
        self.warnings += proc.stderr
        if not text_file.with_suffix(".db").exists() and \
                not Path(f"{text_file}.db").exists():
            raise OSError(f"makemap {text_file.name}: {proc.stderr.strip()}")

    def _run(self, args: list[str], addresses: tuple[str, ...] = ()
             ) -> subprocess.CompletedProcess[str]:
        """sendmail with ``args`` (once per address, if any) in the private namespaces."""
        work = self.work
        assert work is not None
        sendmail = str(SENDMAIL_ROOT / BIN / "sendmail")
        script = (
            "set -e\n"
            "mkdir -p /etc/mail\n"
            f"mount --bind {work}/etc-mail /etc/mail\n"
            f"mount --bind {work}/passwd /etc/passwd\n"
            f"mount --bind {work}/group /etc/group\n"
            f"mount --bind {work}/nsswitch.conf /etc/nsswitch.conf\n"
            f"mount --bind {work}/hosts /etc/hosts\n"
            f"hostname {self.hostname}\n"
            "set +e\n"
        )
        cmd = f'{sendmail} -C {work}/sendmail.cf "$@"'
        if addresses:
            script += (f'for a in "$@"; do echo "{_SEP}$a"; '
                       f'{sendmail} -C {work}/sendmail.cf {" ".join(args)} -- "$a" 2>&1; done\n')
        else:
            script += cmd + "\n"
        argv = ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", script,
                "sh", *(addresses or args)]
        return subprocess.run(argv, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=300)

    def verify(self, addresses: list[str]) -> dict[str, list[SendmailVerdict]]:
        """``sendmail -bv`` for each address, run separately so expansions do not merge."""
        out: dict[str, list[SendmailVerdict]] = {}
        proc = self._run(["-bv"], tuple(addresses))
        for chunk in proc.stdout.split(_SEP)[1:]:
            address, _, output = chunk.partition("\n")
            out[address] = parse_bv(output)
        if set(out) != set(addresses):
            # sendmail never ran (e.g. the namespaces could not be made): an
            # operational failure, not a list of differences.
            raise OSError(f"sendmail -bv did not run (exit {proc.returncode}): "
                          f"{proc.stderr.strip() or 'no output'}")
        return out
