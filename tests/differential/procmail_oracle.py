"""Run the real procmail on an rc file and a message, and say where the message went.

The oracle half of the procmail -> Sieve differential tests: it runs
``/usr/bin/procmail -m RCFILE`` with HOME, MAILDIR and DEFAULT inside a
temporary directory, with ``$SENDMAIL`` and any named pipe programs replaced
by a recorder script, and reports the outcome as folders written (relative
to HOME, maildir as ``dir/`` and MH as ``dir/.``; beside the spool as
``/var/mail/USER.NAME``), forwards, autoreplies,
programs run, and whether the message reached $DEFAULT (the inbox).

$DEFAULT is the user's inbox whatever the rc file sets it to: a TRAP
reports its final value, and a delivery there counts as the inbox, not as
a folder.  The system spools (``/var/mail/``, ``/var/spool/mail/``) named in
the rc file are redirected into the temporary directory, so a run never
writes to the host's real spools.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

PROCMAIL = "/usr/bin/procmail"

_RECORDER = """#!/bin/sh
# Records one call: arguments on the first line, standard input after it.
n=$(ls "{calls}" | wc -l)
f="{calls}/$n.{name}"
printf '%s\\n' "$*" > "$f"
cat >> "$f"
"""
_PASSTHROUGH = """#!/bin/sh
cat
"""


@dataclass(frozen=True)
class Outcome:
    """Where procmail put one message."""

    inbox: bool
    folders: tuple[str, ...]
    forwards: tuple[str, ...]
    autoreplies: tuple[str, ...]
    programs: tuple[str, ...]
    exit_code: int
    log: str
    default: str | None = None

    @property
    def discarded(self) -> bool:
        """Accepted (exit 0) but delivered nowhere, e.g. to /dev/null."""
        return self.exit_code == 0 and not (
            self.inbox or self.folders or self.forwards or self.programs)


def available() -> bool:
    """True when the procmail binary is installed."""
    return os.access(PROCMAIL, os.X_OK)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def _folder_name(rel: str, home: Path) -> str:
    """Name a written file as the folder procmail delivered to."""
    m = re.match(r"^(.*)/(new|cur|tmp)/[^/]+$", rel)
    if m:
        return m.group(1) + "/"
    m = re.match(r"^(.*)/(\d+)$", rel)
    if m:
        return m.group(1) + "/."
    m = re.match(r"^(.*)/msg\.[^/]+$", rel)
    if m and (home / m.group(1)).is_dir():
        return m.group(1)
    return rel


def run_procmail(rc_text: str | bytes, message: bytes, *, user: str = "alice",
                 dirs: Iterable[str] = (), files: Mapping[str, str] | None = None,
                 record: Iterable[str] = ("vacation", "lpr"),
                 passthrough: Iterable[str] = ("spamc", "spamassassin"),
                 timeout: float = 30, marker: bytes | None = None) -> Outcome:
    """Deliver ``message`` with ``rc_text`` as the user's rc file and report the outcome.

    ``dirs``/``files`` are created in HOME first (folder parents matter to
    procmail).  Programs named in ``record`` are replaced by the recorder;
    those in ``passthrough`` copy stdin to stdout (filters that change nothing).
    With ``marker``, only files that contain it count as folders, so a log
    file or cache the rc file writes in HOME is not taken for a delivery.
    """
    with tempfile.TemporaryDirectory(prefix="procmail-oracle-") as tmp:
        root = Path(tmp)
        home, calls, stubs = root / user, root / "calls", root / "bin"
        for d in (home, calls, stubs):
            d.mkdir()
        for d in dirs:
            (home / d).mkdir(parents=True, exist_ok=True)
        for name, text in (files or {}).items():
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(text)
        for name in ["sendmail", *record]:
            _script(stubs / name, _RECORDER.format(calls=calls, name=name))
        for name in passthrough:
            _script(stubs / name, _PASSTHROUGH)
        rc = home / ".procmailrc"
        data = rc_text if isinstance(rc_text, bytes) else rc_text.encode()
        # rc files that name sendmail by its absolute path reach the recorder too.
        for path in (b"/usr/sbin/sendmail", b"/usr/lib/sendmail"):
            data = data.replace(path, str(stubs / "sendmail").encode())
        spools = root / "spools"
        spools.mkdir()
        for path in (b"/var/spool/mail/", b"/var/mail/"):
            data = data.replace(path, str(spools).encode() + b"/")
        rc.write_bytes(data)
        # The spool is /var/mail/USER as the rc file names it, so folders written beside
        # it (${DEFAULT}.Spam/) are seen, and named as the old paths the copy engine reads.
        spool = spools / user
        # An existing spool dated in the past: procmail sleeps a second after writing
        # to a new (or just-touched) mbox, so that its mtime ends up after its atime.
        spool.touch()
        os.utime(spool, (946684800, 946684800))
        log = root / "procmail.log"
        final = root / "default"
        before = _snapshot(home)
        spool_before = _snapshot(spools)
        env = {"PATH": f"{stubs}:/usr/bin:/bin", "LOGNAME": user, "USER": user,
               "HOME": str(home), "SHELL": "/bin/sh"}
        args = [PROCMAIL, "-m", f"PATH={env['PATH']}", f"HOME={home}", f"MAILDIR={home}",
                f"DEFAULT={spool}",
                f"ORGMAIL={spool}", f"SENDMAIL={stubs / 'sendmail'}", f"LOGFILE={log}",
                f"LOGNAME={user}", "VERBOSE=no",
                # A lock in a missing directory is retried LOCKSLEEP (8 s) apart for
                # about a minute before the delivery fails; the outcome is the same.
                "LOCKSLEEP=0",
                # Single quotes: the shell that runs TRAP at the end expands $DEFAULT.
                f"TRAP='echo \"$DEFAULT\" > {final}; pwd >> {final}'", str(rc)]
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=home,
                                start_new_session=True)
        proc.communicate(message, timeout=timeout)
        _wait_for_session(proc.pid, timeout)
        after = _snapshot(home)
        changed = sorted(k for k, v in after.items() if before.get(k) != v and k != ".procmailrc"
                         and (marker is None or marker in (home / k).read_bytes()))
        beside = sorted(k for k, v in _snapshot(spools).items()
                        if spool_before.get(k) != v and k != user
                        and (marker is None or marker in (spools / k).read_bytes()))
        folders = tuple(dict.fromkeys([*(_folder_name(c, home) for c in changed),
                                       *("/var/mail/" + _folder_name(c, spools)
                                         for c in beside)]))
        forwards, replies, programs = _calls(calls)
        inbox = spool.exists() and spool.stat().st_size > 0
        default = _final_default(final)
        if default is not None and default != spool:
            try:
                rel = default.relative_to(home).as_posix()
            except ValueError:
                rel = None
                inbox = inbox or _holds(default, marker)
            kept = tuple(f for f in folders if f.rstrip("/").removesuffix("/.") != rel)
            inbox = inbox or kept != folders
            folders = kept
        return Outcome(
            inbox=inbox,
            folders=folders,
            forwards=forwards,
            autoreplies=replies,
            programs=programs,
            exit_code=proc.returncode,
            log=log.read_text(errors="replace") if log.exists() else "",
            default=None if default is None else str(default),
        )


def _final_default(trap_file: Path) -> Path | None:
    """$DEFAULT as procmail left it (the TRAP's report), absolute; None when not reported.

    A relative $DEFAULT is a folder name: it is resolved against the
    directory procmail was in (its last MAILDIR), as procmail resolves it.
    """
    if not trap_file.exists():
        return None
    lines = trap_file.read_text(errors="replace").splitlines()
    if len(lines) < 2 or not lines[0]:
        return None
    return Path(os.path.normpath(os.path.join(lines[1], lines[0])))


def _holds(path: Path, marker: bytes | None) -> bool:
    """The file (or any file under the directory) holds the message."""
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    return any(p.is_file() and (marker is None or marker in p.read_bytes()) for p in files)


def _wait_for_session(sid: int, timeout: float) -> None:
    """procmail does not wait for pipe programs (without w): wait for its whole session."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        # os.listdir, not Path.glob: glob stats each /proc/PID/stat and a process that
        # exits meanwhile raises ProcessLookupError there, outside any try
        for pid in (name for name in os.listdir("/proc") if name.isdigit()):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile (ENOENT, ESRCH)
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                alive = True
                break
        if not alive:
            return
        time.sleep(0.05)


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _calls(calls: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Sort recorded calls into forwards, autoreplies (sendmail -t) and other programs."""
    forwards: list[str] = []
    replies: list[str] = []
    programs: list[str] = []
    for f in sorted(calls.iterdir(), key=lambda p: int(p.name.split(".")[0])):
        name = f.name.split(".", 1)[1]
        data = f.read_bytes()
        argline, _, body = data.partition(b"\n")
        args = argline.decode(errors="replace").split()
        if name != "sendmail":
            programs.append(name)
        elif "-t" in args:
            headers = BytesHeaderParser().parsebytes(body)
            replies.append(str(headers.get("To", "")).strip())
        else:
            forwards += _recipients(args)
    return tuple(forwards), tuple(replies), tuple(programs)


def _recipients(args: list[str]) -> list[str]:
    """sendmail's recipient arguments: not options, nor the sender after -f/-F/-r."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = a in ("-f", "-F", "-r")
        else:
            out.append(a)
    return out


def which_procmail() -> str | None:
    """The procmail found on PATH, for messages when the fixed path is missing."""
    return shutil.which("procmail")
