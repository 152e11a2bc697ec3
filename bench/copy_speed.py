#!/usr/bin/env python3
"""Copy engine speed: ``mailmigrate copy`` against a raw loader and a naive client, one run.

    python3 bench/copy_speed.py [--messages 20000] [--users 12] [--connections 4]
                                [--naive-messages 400] [--workdir /var/tmp/mmbench] [--seed 7]

Needs the sandbox (samples/sandbox/sandbox.py start).  Writes a synthetic site
with samples/make_spools.py --big, then runs three contenders, each in its own
child process (peak RSS = that child's ru_maxrss) and each into fresh random
Cyrus users that are deleted afterwards:

(a) ``mailmigrate copy`` through the real CLI (tracker, APPENDUID ledger, and
    its verification: after each folder, Cyrus's DIGEST.SHA1 of every message
    stored is compared with the SHA-1 of the bytes sent); then, timed apart,
    ``mailmigrate verify`` (every folder against its source), reported as (a+v).
(b) a raw loader: the same prepared bytes (read beforehand, CRLF) sent as
    pipelined MULTIAPPEND + LITERAL+ batches over plain sockets, with the same
    number of connections: the ceiling of this Cyrus on this machine.
(c) a naive client: one ``IMAPClient.append`` per message on one connection,
    on an evenly spread subset of the messages, extrapolated per message.

Every time is the child process's wall time, from its start to its exit, so
start-up costs count the same for all.  Prints messages/s, MB/s and peak RSS
of each, and the ratios (a)/(b), (a+v)/(b), (a)/(c).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "samples"))

from spool_site import clone_site  # noqa: E402

SANDBOX = Path(os.environ.get("MAILMIGRATE_SANDBOX") or "/var/tmp/mailmigrate-sandbox")


# ------------------------------------------------------------ preparation


def generate(workdir: Path, messages: int, users: int, seed: int) -> Path:
    """The synthetic corpus (reused when the same parameters already produced it)."""
    corpus = workdir / f"corpus-{messages}-{users}-{seed}"
    if not (corpus / "manifest.json").is_file():
        shutil.rmtree(corpus, ignore_errors=True)
        subprocess.run([sys.executable, str(REPO / "samples/make_spools.py"), str(corpus),
                        "--users", str(users), "--messages", str(messages), "--big",
                        "--seed", str(seed)], check=True)
    return corpus


def write_config(dest: Path, connections: int) -> Path:
    """A mailmigrate config for a site in ``dest/site`` and the sandbox servers."""
    servers = (SANDBOX / "servers.toml").read_text()
    servers = servers.replace("[cyrus]\n", f"[cyrus]\nconnections = {connections}\n", 1)
    config = dest / "mailmigrate.toml"
    config.write_text('[site]\nroot = "site"\n\n[tracker]\ndb = "sqlite:///tracker.sqlite"\n\n'
                      '[output]\ndir = "out"\n\n' + servers)
    return config


def prepare(site: Path, config: Path, out: Path) -> list[dict]:
    """Read every mailbox once: the appendable bytes go to ``out``, the index is returned.

    Each unit is one folder of one user: {user, folder, msgs: [[start, len, flags,
    date, sha1], ...]}, ``start`` being the byte offset in ``out``.
    """
    from converters.mbox import read_mbox
    from migrate.config import load_config
    from migrate.inventory import find_mailboxes
    from migrate.sitefs import on_disk

    cfg = load_config(config)
    units = []
    with out.open("wb") as fh:
        for user in sorted(p.name for p in (site / "home").iterdir()):
            for found in find_mailboxes(site, user, f"/home/{user}", cfg.mapping):
                msgs = []
                for m in read_mbox(on_disk(site, found.source)):
                    msgs.append([fh.tell(), len(m.data), list(m.flags),
                                 m.internaldate.isoformat(), m.sha1])
                    fh.write(m.data)
                units.append({"user": user, "folder": found.folder, "msgs": msgs})
    return units


class Admin:
    """The sandbox's admin session, for creating and deleting the contenders' users."""

    def __init__(self) -> None:
        from imapclient import IMAPClient

        cy = tomllib.loads((SANDBOX / "servers.toml").read_text())["cyrus"]
        self.client = IMAPClient(cy["host"], port=cy["imap_port"], ssl=False, timeout=600)
        self.client.login(cy["admin"], Path(cy["password_file"]).read_text().strip())
        self.admin = cy["admin"]

    def create(self, users: list[str]) -> None:
        for user in users:
            self.client.create_folder(f"user/{user}")

    def delete(self, users: list[str]) -> None:
        for user in users:
            box = f"user/{user}"
            if self.client.folder_exists(box):
                self.client.setacl(box, self.admin, "lrswipkxtecda")
                self.client.delete_folder(box)


# ------------------------------------------------------------ contenders (children)


def _cyrus() -> dict:
    cy = tomllib.loads((SANDBOX / "servers.toml").read_text())["cyrus"]
    cy["password"] = Path(cy["password_file"]).read_text().strip()
    return cy


class RawSession:
    """A plain socket speaking just enough IMAP: AUTHENTICATE PLAIN, CREATE, APPEND."""

    def __init__(self, cy: dict, user: str) -> None:
        self.sock = socket.create_connection((cy["host"], cy["imap_port"]))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.rfile.readline()
        self.n = 0
        token = base64.b64encode(f"{user}\0{cy['admin']}\0{cy['password']}".encode())
        self.done(self.send(b"AUTHENTICATE PLAIN " + token + b"\r\n"))

    def send(self, rest: bytes) -> bytes:
        self.n += 1
        tag = b"r%d" % self.n
        self.sock.sendall(tag + b" " + rest)
        return tag

    def done(self, tag: bytes, allow_no: bool = False) -> bytes:
        while True:
            line = self.rfile.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK") and not allow_no:
                    raise RuntimeError(line.decode("utf-8", "replace"))
                return line

    def close(self) -> None:
        self.sock.sendall(b"z LOGOUT\r\n")
        self.sock.close()


def _quoted(folder: str) -> bytes:
    from imapclient.imap_utf7 import encode

    return b'"' + encode(folder).replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _batches(msgs: list, count: int, size: int) -> list[list]:
    out, cur, cur_bytes = [], [], 0
    for m in msgs:
        if cur and (len(cur) >= count or cur_bytes + m[1] > size):
            out.append(cur)
            cur, cur_bytes = [], 0
        cur.append(m)
        cur_bytes += m[1]
    if cur:
        out.append(cur)
    return out


def run_raw(index: dict, data: Path, connections: int, count: int, size: int,
            window: int = 2) -> dict:
    """(b): pipelined MULTIAPPEND, up to ``window`` batches in flight per connection."""
    from datetime import datetime

    cy = _cyrus()
    work: queue.Queue = queue.Queue()
    for unit in sorted(index["units"], key=lambda u: -sum(m[1] for m in u["msgs"])):
        work.put(unit)
    errors: list[BaseException] = []
    fd = os.open(data, os.O_RDONLY)

    def worker() -> None:
        session: RawSession | None = None
        try:
            while True:
                try:
                    unit = work.get_nowait()
                except queue.Empty:
                    return
                user = index["names"][unit["user"]]
                if session is None or session.user != user:
                    if session:
                        session.close()
                    session = RawSession(cy, user)
                    session.user = user  # type: ignore[attr-defined]
                parts = unit["folder"].split("/")
                for i in range(2, len(parts) + 1):
                    session.done(session.send(b"CREATE " + _quoted("/".join(parts[:i])) + b"\r\n"),
                                 allow_no=True)
                box = _quoted(unit["folder"])
                pending: list[bytes] = []
                for batch in _batches(unit["msgs"], count, size):
                    start = batch[0][0]
                    blob = os.pread(fd, batch[-1][0] + batch[-1][1] - start, start)
                    out = [b"APPEND ", box]
                    for off, length, flags, date, _ in batch:
                        when = datetime.fromisoformat(date).strftime("%d-%b-%Y %H:%M:%S %z")
                        out.append(b" (%s) \"%s\" {%d+}\r\n" % (" ".join(flags).encode(),
                                                                 when.encode(), length))
                        out.append(blob[off - start:off - start + length])
                    out.append(b"\r\n")
                    pending.append(session.send(b"".join(out)))
                    if len(pending) >= window:
                        session.done(pending.pop(0))
                for tag in pending:
                    session.done(tag)
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            errors.append(exc)
        finally:
            if session:
                session.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    n = sum(len(u["msgs"]) for u in index["units"])
    b = sum(m[1] for u in index["units"] for m in u["msgs"])
    return {"messages": n, "bytes": b, "seconds": elapsed}


def naive_subset(index: dict, k: int) -> list[tuple[dict, list]]:
    """Every n-th message of the corpus (so the size mix stays), grouped by folder."""
    flat = [(u, m) for u in index["units"] for m in u["msgs"]]
    step = max(1, len(flat) // k)
    picked: dict[int, tuple[dict, list]] = {}
    for u, m in flat[::step][:k]:
        picked.setdefault(id(u), (u, []))[1].append(m)
    return list(picked.values())


def run_naive(index: dict, data: Path, k: int) -> dict:
    """(c): one IMAPClient.append per message, one connection per user, one at a time."""
    from datetime import datetime

    from imapclient import IMAPClient

    cy = _cyrus()
    subset = naive_subset(index, k)
    fd = os.open(data, os.O_RDONLY)
    t0 = time.perf_counter()
    clients: dict[str, IMAPClient] = {}
    n = b = 0
    for unit, msgs in subset:
        user = index["names"][unit["user"]]
        if user not in clients:
            for c in clients.values():
                c.logout()
            clients = {user: IMAPClient(cy["host"], port=cy["imap_port"], ssl=False, timeout=600)}
            clients[user].plain_login(cy["admin"], cy["password"], authorization_identity=user)
        client = clients[user]
        if not client.folder_exists(unit["folder"]):
            parts = unit["folder"].split("/")
            for i in range(2, len(parts) + 1):
                if not client.folder_exists("/".join(parts[:i])):
                    client.create_folder("/".join(parts[:i]))
        for off, length, flags, date, _ in msgs:
            client.append(unit["folder"], os.pread(fd, length, off), flags,
                          datetime.fromisoformat(date))
            n += 1
            b += length
    for c in clients.values():
        c.logout()
    return {"messages": n, "bytes": b, "seconds": time.perf_counter() - t0}


def run_digest_check(index: dict) -> dict:
    """Every folder of every user holds exactly the prepared messages (by DIGEST.SHA1)."""
    from imapclient import IMAPClient

    cy = _cyrus()
    t0 = time.perf_counter()
    by_user: dict[str, list[dict]] = {}
    for unit in index["units"]:
        by_user.setdefault(index["names"][unit["user"]], []).append(unit)
    bad = []
    for user, units in by_user.items():
        client = IMAPClient(cy["host"], port=cy["imap_port"], ssl=False, timeout=600)
        client.plain_login(cy["admin"], cy["password"], authorization_identity=user)
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for unit in units:
            client.select_folder(unit["folder"], readonly=True)
            uids = client.search()
            fetched = client.fetch(uids, ["DIGEST.SHA1"]) if uids else {}
            got = Counter(d[b"DIGEST.SHA1"].decode().lower() for d in fetched.values())
            want = Counter(m[4] for m in unit["msgs"])
            if got != want:
                bad.append(f"{user} {unit['folder']}: {sum((want - got).values())} missing, "
                           f"{sum((got - want).values())} unexpected")
        client.logout()
    return {"seconds": time.perf_counter() - t0, "mismatches": bad}


def child_main(argv: list[str]) -> int:
    """Entry for the contenders' child processes: prints one JSON result."""
    mode, index_path, data, *rest = argv
    index = json.loads(Path(index_path).read_text())
    if mode == "raw":
        res = run_raw(index, Path(data), *(int(x) for x in rest))
    elif mode == "naive":
        res = run_naive(index, Path(data), int(rest[0]))
    else:
        res = run_digest_check(index)
    print(json.dumps(res))
    return 0


# ------------------------------------------------------------ parent


def run_child(cmd: list[str], cwd: Path = REPO) -> tuple[float, float, float, str]:
    """Run a child; return (wall seconds, its peak RSS in MiB, its CPU seconds, stdout)."""
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        out = proc.stdout.read()  # type: ignore[union-attr]
        err = proc.stderr.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd[:6])} failed ({proc.returncode}):\n{err.decode()}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, out.decode()


def cyrus_version() -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "cyrus-imapd"],
                          capture_output=True, text=True)
    return f"Cyrus {proc.stdout.strip() or '?'}"


def run_round(args: argparse.Namespace, corpus: Path, run_dir: Path, units: list[dict],
              data: Path, admin: Admin, n: int) -> dict[str, dict]:
    """One run of each contender, each into its own fresh random users (deleted after)."""
    from migrate.config import load_config

    domain = f"bench-{secrets.token_hex(4)}.example"
    total_msgs = sum(len(u["msgs"]) for u in units)
    total_bytes = sum(m[1] for u in units for m in u["msgs"])
    me = [sys.executable, str(Path(__file__).resolve())]
    results: dict[str, dict] = {}
    for c in "abc":
        site = run_dir / f"{c}{n}"
        names = clone_site(corpus, site / "site", f"b{secrets.token_hex(3)}{c}", domain)
        config = write_config(site, args.connections)
        index = site / "index.json"
        index.write_text(json.dumps({"units": units, "names": names}))
        cyrus = load_config(config).cyrus
        try:
            if c == "a":  # the real CLI: inventory (not timed), copy, then verify
                mm = [sys.executable, "-m", "migrate", "--config", str(config)]
                subprocess.run(mm + ["inventory"], cwd=REPO, check=True, capture_output=True)
                t_copy, rss, cpu, out = run_child(mm + ["copy", "--domain", domain, "--json"])
                report = json.loads(out)
                copied = sum(r["appended"] for r in report["mailboxes"])
                altered = sum(r["altered"] for r in report["mailboxes"])
                t_ver, rss_v, cpu_v, out = run_child(mm + ["verify", "--domain", domain,
                                                          "--json"])
                mismatches = [f"{f['user']} {f['folder']}" for f in
                              json.loads(out)["folders"] if f["differs"]]
                _, _, _, out = run_child(me + ["digest", str(index), str(data)])
                mismatches += json.loads(out)["mismatches"]  # the bench's own check
                if copied != total_msgs or mismatches or altered:
                    raise SystemExit(f"(a) copied {copied} of {total_msgs}, {altered} not as "
                                     f"sent; {mismatches[:5]}")
                results[c] = {"seconds": t_copy, "verify_seconds": t_ver, "rss": rss,
                              "verify_rss": rss_v, "cpu": cpu, "verify_cpu": cpu_v,
                              "messages": total_msgs, "bytes": total_bytes}
            elif c == "b":
                admin.create(list(names.values()))
                wall, rss, cpu, out = run_child(me + ["raw", str(index), str(data),
                                                     str(args.connections),
                                                     str(cyrus.batch_messages),
                                                     str(cyrus.batch_bytes)])
                results[c] = json.loads(out) | {"seconds": wall, "rss": rss, "cpu": cpu}
            else:
                admin.create(list(names.values()))
                wall, rss, cpu, out = run_child(me + ["naive", str(index), str(data),
                                                     str(args.naive_messages)])
                results[c] = json.loads(out) | {"seconds": wall, "rss": rss, "cpu": cpu}
        finally:
            admin.delete(list(names.values()))
            shutil.rmtree(site, ignore_errors=True)
        r = results[c]
        print(f"  round {n + 1} ({c}): {r['messages'] / r['seconds']:.0f} msgs/s, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("raw", "naive", "digest"):
        return child_main(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--users", type=int, default=12)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--naive-messages", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2,
                    help="runs of each contender, interleaved; the best of each is reported")
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/mmbench"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    from migrate.config import CyrusConfig

    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir.chmod(0o755)
    corpus = generate(args.workdir, args.messages, args.users, args.seed)
    run_dir = args.workdir / f"run-{secrets.token_hex(3)}"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    data = run_dir / "prepared.bin"
    units = prepare(corpus, write_config(run_dir, args.connections), data)
    total_msgs = sum(len(u["msgs"]) for u in units)
    total_bytes = sum(m[1] for u in units for m in u["msgs"])
    big = sum(1 for u in units for m in u["msgs"] if m[1] >= 2_000_000)
    users = len({u["user"] for u in units})
    print(f"corpus: {total_msgs} messages, {total_bytes / 1e6:.1f} MB appendable, "
          f"{len(units)} folders of {users} users, {big} messages >= 2 MB; "
          f"{args.connections} connections, batches of {CyrusConfig.batch_messages} messages "
          f"/ {CyrusConfig.batch_bytes >> 20} MiB", flush=True)
    admin = Admin()
    rounds = []
    try:
        for n in range(args.rounds):
            rounds.append(run_round(args, corpus, run_dir, units, data, admin, n))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)

    def rate(r: dict) -> float:
        return r["messages"] / r["seconds"]

    best = {c: max((r[c] for r in rounds), key=rate) for c in "abc"}
    labels = {"a": "(a) mailmigrate copy (digests of what was stored checked)",
              "b": f"(b) raw pipelined MULTIAPPEND, {args.connections} connections",
              "c": f"(c) imapclient append per message, 1 connection ({best['c']['messages']}"
                   " msgs, extrapolated)"}
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
          f"{platform.python_version()}, {cyrus_version()}; best of {args.rounds} interleaved "
          "rounds (other work on the machine slows single runs)")
    print(f"{'contender':<72} {'msgs/s':>8} {'MB/s':>7} {'RSS MiB':>8} {'CPU s':>6}")
    for c in "abc":
        r = best[c]
        print(f"{labels[c]:<72} {rate(r):>8.0f} {r['bytes'] / 1e6 / r['seconds']:>7.1f} "
              f"{r['rss']:>8.0f} {r['cpu']:>6.1f}")
    a = best["a"]
    av = {"messages": a["messages"], "seconds": a["seconds"] + a["verify_seconds"]}
    print(f"{'(a+v) then mailmigrate verify (' + format(a['verify_seconds'], '.1f') + ' s, '}"
          f"{a['verify_cpu']:.1f} s CPU, {a['verify_rss']:.0f} MiB)"
          f"{'':<{max(0, 72 - 46)}} {rate(av):>8.0f}")
    print(f"(a)/(b) = {rate(a) / rate(best['b']):.2f}  (target >= 0.80); "
          f"(a+v)/(b) = {rate(av) / rate(best['b']):.2f}")
    print(f"(a)/(c) = {rate(a) / rate(best['c']):.1f}x  (target >= 30x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
