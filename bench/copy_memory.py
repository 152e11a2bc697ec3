#!/usr/bin/env python3
"""Copy engine memory: ``mailmigrate copy`` of one huge mbox holding one huge message.

    python3 bench/copy_memory.py [--gigabytes 2] [--big-mb 50] [--workdir /var/tmp/mmbench]

Needs the sandbox (samples/sandbox/sandbox.py start).  Writes (once, then
reuses) a site with one user whose spool is a ``--gigabytes`` GB mbox of 1 MB
messages with one ``--big-mb`` MB message in the middle, then runs the real
CLI (inventory, then copy, then verify) as child processes into a fresh
random Cyrus user, deleted afterwards.  Prints each child's peak RSS
(``ru_maxrss``) beside the file size and the largest message: memory must
follow the largest message and the batch size, never the file.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "samples"))

from copy_speed import Admin, cyrus_version, run_child, write_config  # noqa: E402
from spool_site import clone_site  # noqa: E402

MB = 1 << 20
LINE = b"The quick brown fox jumps over the lazy dog; 0123456789 ABCDEFGHIJKLMNOPQRSTU\n"


def _message(n: int, size: int) -> bytes:
    head = (f"From sender{n}@example.net Mon Jan  1 00:00:{n % 60:02d} 2001\n"
            f"From: sender{n}@example.net\nTo: big@example.org\nSubject: message {n}\n"
            f"Message-ID: <mem{n}@example.net>\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n\n")
    return head.encode() + LINE * (size // len(LINE)) + b"\n"


def generate(workdir: Path, gigabytes: float, big_mb: int) -> tuple[Path, int, int]:
    """The site (reused when present); returns (corpus, file bytes, messages)."""
    corpus = workdir / f"memory-{gigabytes:g}g-{big_mb}m"
    spool = corpus / "var/mail/big"
    manifest = corpus / "manifest.json"
    if not manifest.is_file():
        shutil.rmtree(corpus, ignore_errors=True)
        spool.parent.mkdir(parents=True)
        (corpus / "home/big").mkdir(parents=True)
        (corpus / "etc").mkdir()
        (corpus / "etc/passwd").write_text("big:x:1000:1000::/home/big:/bin/sh\n")
        target = int(gigabytes * 1024 * MB)
        count = written = 0
        with spool.open("wb") as fh:
            while written < target:
                size = big_mb * MB if count == 1000 else MB
                data = _message(count, size)
                fh.write(data)
                written += len(data)
                count += 1
        manifest.write_text(json.dumps({"bytes": written, "messages": count}))
    info = json.loads(manifest.read_text())
    return corpus, info["bytes"], info["messages"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gigabytes", type=float, default=2.0)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/mmbench"))
    args = ap.parse_args(argv)
    corpus, size, count = generate(args.workdir, args.gigabytes, args.big_mb)
    run = args.workdir / f"memory-run-{secrets.token_hex(3)}"
    domain = f"mem-{secrets.token_hex(4)}.example"
    names = clone_site(corpus, run / "site", f"m{secrets.token_hex(3)}", domain)
    config = write_config(run, connections=4)
    mm = [sys.executable, "-m", "migrate", "--config", str(config)]
    admin = Admin()
    try:
        subprocess.run(mm + ["inventory"], cwd=REPO, check=True, capture_output=True)
        t_copy, rss, cpu, out = run_child(mm + ["copy", "--domain", domain, "--json"])
        appended = sum(r["appended"] for r in json.loads(out)["mailboxes"])
        t_ver, rss_v, _, out = run_child(mm + ["verify", "--domain", domain, "--reread",
                                               "--json"])
        differs = [f["folder"] for f in json.loads(out)["folders"] if f["differs"]]
    finally:
        admin.delete(list(names.values()))
        shutil.rmtree(run, ignore_errors=True)
    print(f"{cyrus_version()}; one mbox of {size / MB:,.0f} MiB, {count} messages, the "
          f"largest {args.big_mb} MiB")
    print(f"copy:   {appended}/{count} appended in {t_copy:.0f} s ({size / MB / t_copy:.1f} "
          f"MiB/s, {cpu:.1f} s CPU), peak RSS {rss:.0f} MiB")
    print(f"verify: {'no difference' if not differs else differs} in {t_ver:.0f} s "
          f"(--reread), peak RSS {rss_v:.0f} MiB")
    print(f"peak RSS / file size = {rss / (size / MB):.3f}; peak RSS / largest message = "
          f"{rss / args.big_mb:.1f}  (target: copy under 300 MiB)")
    return 0 if appended == count and not differs and rss < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
