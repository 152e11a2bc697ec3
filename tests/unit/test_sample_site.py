"""The sample site says what it holds: check samples/site/README.md against the files.

The demo and the other tests trust the README's message counts and its
description of what each ~/.procmailrc does, so both are checked here: counts
against the mbox files (with a From_ rule stricter than Python's), and rcfiles
against real procmail, which is the only authority on what they do.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[2] / "samples" / "site"
README = SITE / "README.md"

FROM_LINE = re.compile(
    rb"^From \S+ +(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" [ \d]\d \d\d:\d\d(:\d\d)?( [A-Z]{3,5})? \d{4}( [+-]\d{4})?$"
)
UW_PSEUDO_SUBJECT = b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"
PROCMAIL_SYNTAX_COMPLAINTS = re.compile(r"Skipped|Extraneous|Missing|Unexpected|Bad substitution")

needs_procmail = pytest.mark.skipif(
    shutil.which("procmail") is None, reason="procmail not installed"
)


@dataclass(frozen=True)
class FolderRow:
    """One row of the README's folder table."""

    path: str
    kind: str
    separators: int | None
    messages: int
    stdlib: int | None
    filed_by: str


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def readme_folders() -> list[FolderRow]:
    """Rows of the 'Folders and message counts' table."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = _cells(line)
        if len(cells) != 7 or not cells[0].startswith("`") or cells[1] not in ("mbox", "maildir"):
            continue

        def num(s: str) -> int | None:
            return None if s == "-" else int(s)

        rows.append(
            FolderRow(
                cells[0].strip("`"), cells[1], num(cells[2]), int(cells[3]), num(cells[4]), cells[5]
            )
        )
    return rows


def split_mbox(path: Path) -> list[bytes]:
    """Messages of an mbox, split only at From_ lines with a valid date after a blank line."""
    messages: list[list[bytes]] = []
    previous = b""
    for index, line in enumerate(path.read_bytes().split(b"\n")):
        if FROM_LINE.match(line) and (index == 0 or previous == b""):
            messages.append([line])
        elif messages:
            messages[-1].append(line)
        previous = line
    return [b"\n".join(m).rstrip(b"\n") + b"\n" for m in messages]


def is_uw_pseudo(message: bytes) -> bool:
    head = message.split(b"\n\n", 1)[0]
    return UW_PSEUDO_SUBJECT in head.split(b"\n")


def mail_folders_on_disk() -> set[str]:
    """Every spool, mbox folder and maildir under the sample site, relative to it."""
    found = {str(p.relative_to(SITE)) for p in (SITE / "var" / "mail").iterdir()}
    for home in (SITE / "home").iterdir():
        maildir = home / "mail"
        if not maildir.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(maildir):
            here = Path(dirpath)
            if {"cur", "new"} <= set(dirnames):
                found.add(str(here.relative_to(SITE)) + "/")
                dirnames.clear()
                continue
            found.update(str((here / f).relative_to(SITE)) for f in filenames)
    return found


def test_readme_lists_every_folder_once() -> None:
    rows = readme_folders()
    listed = [r.path for r in rows]
    assert len(listed) == len(set(listed))
    assert set(listed) == mail_folders_on_disk()


@pytest.mark.parametrize("row", readme_folders(), ids=lambda r: r.path)
def test_readme_counts_match_files(row: FolderRow) -> None:
    path = SITE / row.path
    if row.kind == "maildir":
        files = [f for sub in ("cur", "new") for f in (path / sub).iterdir()]
        assert len(files) == row.messages
        assert len(mailbox.Maildir(path, create=False)) == row.messages
        return
    messages = split_mbox(path)
    assert len(messages) == row.separators
    real = [m for m in messages if not is_uw_pseudo(m)]
    assert len(real) == row.messages
    assert len(mailbox.mbox(path, create=False)) == row.stdlib


def test_readme_total() -> None:
    rows = readme_folders()
    total = re.search(r"Total: (\d+) folders, (\d+) messages", README.read_text(encoding="utf-8"))
    assert total is not None
    assert (int(total.group(1)), int(total.group(2))) == (len(rows), sum(r.messages for r in rows))


def test_sample_site_stays_small() -> None:
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    assert size < 1_000_000


# ---------------------------------------------------------------- procmail


@dataclass
class Delivery:
    """What one procmail run did, seen from outside."""

    exit_code: int
    log: str
    folders: dict[str, int]  # relative path -> messages now in it
    spool: int
    sent: bytes
    home: Path


def deliver(user: str, message: bytes, tmp_path: Path) -> Delivery:
    """Run the user's rcfile under real procmail in a copy of the home directory."""
    root = tmp_path / user
    home = root / "home"
    shutil.copytree(SITE / "home" / user, home, symlinks=True)
    for dirpath, _dirs, files in os.walk(home / "mail"):
        for name in files:
            if "/cron/" not in dirpath + "/":
                (Path(dirpath) / name).write_bytes(b"")
    shutil.rmtree(home / "mail" / "cron", ignore_errors=True)
    recorder = root / "sendmail"
    recorder.write_text(f'#!/bin/sh\necho "ARGS: $*" >> {root}/sent\ncat >> {root}/sent\n')
    recorder.chmod(0o755)
    spool = root / "spool"
    proc = subprocess.run(
        [
            "procmail",
            "-m",
            f"HOME={home}",
            f"LOGNAME={user}",
            f"ORGMAIL={spool}",
            f"DEFAULT={spool}",
            f"SENDMAIL={recorder}",
            # a lock in a missing directory is retried 9 times, LOCKSLEEP apart
            "LOCKSLEEP=0",
            str(home / ".procmailrc"),
        ],
        input=message,
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        cwd=root,
    )
    logs = proc.stderr.decode("utf-8", "replace")
    for candidate in home.rglob("*"):
        if candidate.is_file() and "log" in candidate.name.lower():
            logs += candidate.read_text("utf-8", "replace")
    folders = {}
    for path in (home / "mail").rglob("*"):
        if path.is_file() and not path.name.endswith(".lock") and "log" not in path.name:
            rel = str(path.relative_to(home / "mail"))
            if "/new/" in f"/{rel}" or "/cur/" in f"/{rel}":
                key = rel.split("/new/")[0].split("/cur/")[0] + "/"
                folders[key] = folders.get(key, 0) + 1
            elif path.stat().st_size:
                folders[rel] = len(split_mbox(path))
    sent = (root / "sent").read_bytes() if (root / "sent").exists() else b""
    return Delivery(
        proc.returncode, logs, folders, len(split_mbox(spool)) if spool.exists() else 0, sent, home
    )


def procmail_users() -> list[str]:
    return sorted(p.parent.name for p in (SITE / "home").glob("*/.procmailrc"))


def sample_message(**headers: str) -> bytes:
    head = {"From": "Someone <someone@host.example>", "To": "x@example.org", "Subject": "hello"}
    head.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = ["From someone@host.example Mon Mar  4 10:00:00 2024"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    return ("\n".join(lines) + "\n\nA plain test body.\n").encode()


@needs_procmail
@pytest.mark.parametrize("user", procmail_users())
def test_procmailrc_has_no_syntax_complaints(user: str, tmp_path: Path) -> None:
    result = deliver(user, sample_message(), tmp_path)
    assert result.exit_code == 0, result.log
    assert not PROCMAIL_SYNTAX_COMPLAINTS.search(result.log), result.log
    assert result.spool == 1 and not any(result.folders.values())


def refile_cases() -> list[tuple[str, str, int]]:
    """(user, folder, index) for every message the README says procmail filed or delivered."""
    cases = []
    users = set(procmail_users())
    for row in readme_folders():
        user = row.path.split("/")[2] if row.path.startswith("var/") else row.path.split("/")[1]
        if user in users and row.filed_by in ("procmail", "delivery") and row.kind == "mbox":
            cases += [(user, row.path, i) for i in range(row.messages)]
    return cases


@needs_procmail
@pytest.mark.parametrize("user,folder,index", refile_cases())
def test_procmail_refiles_message_where_readme_says(
    user: str, folder: str, index: int, tmp_path: Path
) -> None:
    message = [m for m in split_mbox(SITE / folder) if not is_uw_pseudo(m)][index]
    result = deliver(user, message, tmp_path)
    assert result.exit_code == 0, result.log
    filed = {k: v for k, v in result.folders.items() if v}
    if folder.startswith("var/mail/"):
        assert filed == {} and result.spool == 1, result.log
    else:
        assert filed == {folder.split("/mail/", 1)[1]: 1} and result.spool == 0, result.log


@needs_procmail
def test_alice_discards_digests_and_very_high_spam(tmp_path: Path) -> None:
    digest = sample_message(
        List_Id="Python list <python-list.python.org>",
        Subject="Python-list Digest, Vol 200, Issue 3",
    )
    spam = sample_message(X_Spam_Flag="YES", X_Spam_Level="*" * 16)
    for i, message in enumerate((digest, spam)):
        result = deliver("alice", message, tmp_path / str(i))
        assert result.spool == 0 and not any(result.folders.values()), result.log


@needs_procmail
def test_alice_cron_goes_to_maildir(tmp_path: Path) -> None:
    result = deliver(
        "alice",
        sample_message(
            From="Cron Daemon <root@mail.example.org>", Subject="Cron <root@mail> run-parts"
        ),
        tmp_path,
    )
    assert result.folders == {"cron/": 1}
    assert list((result.home / "mail" / "cron" / "new").iterdir())


@needs_procmail
def test_carol_files_daemon_bounces(tmp_path: Path) -> None:
    bounce = sample_message(
        From="Mail Delivery Subsystem <MAILER-DAEMON@mail.example.org>",
        Subject="Returned mail: see transcript for details",
    )
    assert deliver("carol", bounce, tmp_path).folders.get("bounces") == 1


@needs_procmail
def test_dieter_missing_parent_falls_through_to_spool(tmp_path: Path) -> None:
    result = deliver("dieter", sample_message(To="stammtisch@lists.example.org"), tmp_path)
    assert result.spool == 1
    assert not (result.home / "mail" / "archiv").exists()


@needs_procmail
def test_erin_atlas_copy_goes_through_archive_script(tmp_path: Path) -> None:
    result = deliver("erin", sample_message(Subject="[atlas] weekly status"), tmp_path)
    assert result.folders.get("projects/atlas") == 1 and result.spool == 0
    # procmail does not wait for a program on a recipe without the w flag
    deadline = time.monotonic() + 10
    archived: list[Path] = []
    while not archived and time.monotonic() < deadline:
        archived = [p for p in (result.home / "archive").rglob("*.mbox") if p.stat().st_size]
        time.sleep(0.05)
    assert len(archived) == 1 and b"[atlas] weekly status" in archived[0].read_bytes()


@needs_procmail
def test_erin_forwards_a_copy_of_alices_mail(tmp_path: Path) -> None:
    result = deliver("erin", sample_message(From="Alice Marchetti <alice@example.org>"), tmp_path)
    assert result.spool == 1
    assert b"erin.mobile@example.com" in result.sent.split(b"\n", 1)[0]


@needs_procmail
def test_frank_autoreply_once_with_x_loop(tmp_path: Path) -> None:
    first = deliver("frank", sample_message(To="info@example.net"), tmp_path / "a")
    assert first.folders.get("info") == 1
    assert b"X-Loop: info@example.net" in first.sent
    assert b"To: Someone <someone@host.example>" in first.sent or b"To: someone@" in first.sent
    looped = deliver(
        "frank", sample_message(To="info@example.net", X_Loop="info@example.net"), tmp_path / "b"
    )
    assert looped.folders.get("info") == 1 and looped.sent == b""


@needs_procmail
def test_frank_minutes_fall_through_to_board(tmp_path: Path) -> None:
    result = deliver(
        "frank",
        sample_message(To="board@example.net", Subject="minutes of the May meeting"),
        tmp_path,
    )
    assert {k: v for k, v in result.folders.items() if v} == {"board": 1}
    assert not (result.home / "mail" / "board").is_dir()


# ------------------------------------------------------------- make_spools


def test_make_spools_manifest_matches_files_and_is_deterministic(tmp_path: Path) -> None:
    script = SITE.parent / "make_spools.py"
    for run in ("a", "b"):
        subprocess.run(
            [sys.executable, str(script), str(tmp_path / run), "--users", "4", "--messages", "400"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert sum(manifest["folders"].values()) == 400
    sizes = []
    for rel, count in manifest["folders"].items():
        path = tmp_path / "a" / rel
        assert path.read_bytes() == (tmp_path / "b" / rel).read_bytes()
        real = [m for m in split_mbox(path) if not is_uw_pseudo(m)]
        assert len(real) == count, rel
        sizes += [len(m) for m in real]
    assert 2_500 < statistics.median(sizes) < 7_000
