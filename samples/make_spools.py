#!/usr/bin/env python3
"""Write a large synthetic old-server spool set, for benchmarks and load tests.

The hand-made tree in samples/site is small on purpose; the copy engine and
the mbox reader also need to be measured on tens of thousands of messages
with the size mix and the quirks of a real site.  This script writes such a
tree, deterministically from a seed, using only the standard library:

    python3 samples/make_spools.py OUTDIR --users 20 --messages 20000 [--big] [--seed 1]

It writes OUTDIR/var/mail/USER, OUTDIR/home/USER/mail/... (mbox), a matching
OUTDIR/etc/passwd, and OUTDIR/manifest.json with the number of real messages
in every folder (what a correct reader must find; the UW-IMAP pseudo message
is not counted).  Sizes follow a log-normal mix with a median of about 4 KB;
about 3% carry 60-400 KB attachments and, with --big, a few carry 2-8 MB.

Quirks sprinkled in at fixed rates: Status/X-Status/X-Keywords flags,
mboxrd-quoted ``>From `` lines, unquoted ``From `` body lines that are not
separators, a UW-IMAP "FOLDER INTERNAL DATA" message at the top of some
spools, From_ lines in asctime, zone-name and numeric-zone forms, RFC 2047
subjects, latin-1 and UTF-8 8-bit bodies, quoted-printable, base64
attachments, mailing-list headers, spam-tagged mail and MAILER-DAEMON bounces.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import quopri
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FIRST = (
    "anna",
    "ben",
    "chris",
    "dana",
    "eli",
    "fay",
    "gus",
    "hana",
    "ivo",
    "jana",
    "kim",
    "lars",
    "mia",
    "noor",
    "otto",
    "pia",
    "quinn",
    "rosa",
    "sven",
    "tara",
    "uma",
    "vik",
    "wen",
    "yara",
)
LAST = (
    "adler",
    "berg",
    "costa",
    "dahl",
    "ek",
    "frost",
    "gray",
    "holm",
    "ito",
    "jung",
    "kohl",
    "lind",
    "moss",
    "nagy",
    "ortiz",
    "park",
    "reyes",
    "stone",
    "torres",
    "vance",
    "wolf",
)
WORDS = (
    "the server mail folder backup meeting budget report please attached thanks question "
    "project week monday friday update draft review migration account password list "
    "archive invoice schedule change team office network printer release notes issue "
    "ticket deadline agenda minutes holiday travel client order delivery payment"
).split()
FOLDERS = (
    "sent-mail",
    "saved-messages",
    "work",
    "family",
    "receipts",
    "lists/python",
    "lists/debian",
    "spam",
    "projects/atlas",
    "Entwürfe",
    "archive/2019",
    "archive/2020",
)
LISTS = {
    "lists/python": ("python-list.python.org", "python-list@python.org"),
    "lists/debian": ("debian-user.lists.debian.org", "debian-user@lists.debian.org"),
}
SUBJECTS_2047 = (
    "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=",
    "=?ISO-8859-1?Q?=DCbergabe_der_Schl=FCssel?=",
    "=?utf-8?B?W0lORk9dIE7DpGNoc3RlIFdvY2hl?=",
)
LATIN1_TEXT = "Grüße aus Köln, die Übergabe ist am Freitag. Schöne Woche!\n"
UTF8_TEXT = "Chúc mừng năm mới! Ça va très bien, merci. Здравствуйте.\n"
UW_PSEUDO = (
    "Date: {date}\nFrom: Mail System Internal Data <MAILER-DAEMON@mail.example.org>\n"
    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
    "Message-ID: <{stamp}@mail.example.org>\nX-IMAP: {stamp} {last:010d} $Forwarded Junk\n"
    "Status: RO\n\n"
    "This text is part of the internal format of your mail folder, and is not\n"
    "a real message.  It is created automatically by the mail system software.\n"
    "If deleted, important folder data will be lost, and it will be re-created\n"
    "with the data reset to initial values.\n"
)


@dataclass
class Folder:
    """One mbox being written: its path, messages so far, and whether it is a UW spool."""

    rel: str
    uw: bool = False
    count: int = 0
    chunks: list[bytes] = field(default_factory=list)


def local_time(moment: datetime) -> datetime:
    """The server's wall clock: +0200 from April to October, else +0100 (close enough)."""
    return moment.astimezone(timezone(timedelta(hours=2 if 4 <= moment.month <= 10 else 1)))


def from_line(rng: random.Random, sender: str, when: datetime) -> str:
    """An envelope line in one of the forms real writers used."""
    base = f"{DAYS[when.weekday()]} {MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S}"
    form = rng.random()
    if form < 0.8:
        return f"From {sender} {base} {when.year}"
    if form < 0.9:
        return f"From {sender} {base} {'CEST' if 4 <= when.month <= 10 else 'CET'} {when.year}"
    return f"From {sender} {base} {when.year} {when:%z}"


def words(rng: random.Random, n: int) -> str:
    """n words of filler text, wrapped at about 70 columns."""
    out, line = [], []
    for _ in range(n):
        line.append(rng.choice(WORDS))
        if sum(len(w) + 1 for w in line) > 68:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return "\n".join(out) + "\n"


def target_size(rng: random.Random, big: bool) -> int:
    """Message size in bytes: log-normal around 4 KB, with attachment-sized outliers."""
    roll = rng.random()
    if big and roll < 0.002:
        return rng.randint(2_000_000, 8_000_000)
    if roll < 0.03:
        return rng.randint(60_000, 400_000)
    return int(min(60_000, max(600, math.exp(rng.gauss(math.log(4000), 0.8)))))


def received(rng: random.Random, rcpt: str, when: datetime) -> list[str]:
    """A two-hop Received chain as sendmail on mail.example.org wrote it."""
    qid = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(14))
    hop = when + timedelta(seconds=rng.randint(1, 30))
    ip = f"203.0.113.{rng.randint(1, 254)}"
    return [
        f"Received: from mx{rng.randint(1, 4)}.example.com (mx.example.com [{ip}])",
        f"\tby mail.example.org (8.15.2/8.15.2/Debian-8) with ESMTP id {qid}",
        f"\tfor <{rcpt}>; {format_datetime(hop)}",
        f"Received: from client.example.com ([192.0.2.{rng.randint(1, 254)}])",
        f"\tby mx.example.com (Postfix) with ESMTPSA id {qid[:10]};",
        f"\t{format_datetime(when)}",
    ]


def flags(rng: random.Random, uw: bool, uid: int) -> list[str]:
    """c-client/mutt status headers."""
    out = []
    roll = rng.random()
    if roll < 0.7:
        out.append("Status: RO")
    elif roll < 0.85:
        out.append("Status: O")
    xs = rng.choice(["", "", "", "A", "F", "AF"])
    if xs or uw:
        out.append(f"X-Status: {xs}")
    if uw:
        out += [f"X-Keywords:{rng.choice(['', '', ' $Forwarded', ' Junk'])}", f"X-UID: {uid}"]
    elif rng.random() < 0.05:
        out.append("X-Keywords: $Label1")
    return out


def body_and_type(rng: random.Random, size: int) -> tuple[list[str], str]:
    """Content headers and body text of roughly the given size."""
    roll = rng.random()
    if size > 20_000 or roll < 0.08:
        boundary = f"=_part_{rng.getrandbits(48):012x}"
        text = words(rng, 40)
        payload = base64.encodebytes(rng.randbytes(max(256, size * 3 // 4 - 1200))).decode()
        name = rng.choice(["report.pdf", "photo.jpg", "data.zip", "scan.tiff"])
        body = (
            f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            + text
            + f'\n--{boundary}\nContent-Type: application/octet-stream; name="{name}"\n'
            f"Content-Transfer-Encoding: base64\n"
            f'Content-Disposition: attachment; filename="{name}"\n\n'
            + payload
            + f"\n--{boundary}--\n"
        )
        return ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"'], body
    text = words(rng, max(10, (size - 900) // 6))
    if roll < 0.14:
        return (
            [
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=iso-8859-1",
                "Content-Transfer-Encoding: 8bit",
            ],
            LATIN1_TEXT + text,
        )
    if roll < 0.20:
        return (
            [
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
            ],
            UTF8_TEXT + text,
        )
    if roll < 0.26:
        return (
            [
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            quopri.encodestring(UTF8_TEXT.encode("utf-8")).decode("ascii") + text,
        )
    return ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"], text


def body_quirks(rng: random.Random, body: str) -> str:
    """Lines that trip naive mbox readers, at low rates."""
    roll = rng.random()
    if roll < 0.02:
        return body + "\n>From the archive: this line was quoted by the writer.\n"
    if roll < 0.03:
        return body + "\nFrom the desk of the chair: this line was never quoted.\n"
    return body


def bounce(rng: random.Random, user: str, when: datetime) -> tuple[str, str]:
    """A sendmail DSN as delivered to the user."""
    boundary = f"{when:%y%m%d%H%M}.{rng.randint(10000, 99999)}@mail.example.org"
    head = [
        f"Date: {format_datetime(when)}",
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mail.example.org>",
        f"To: <{user}@example.org>",
        "Subject: Returned mail: see transcript for details",
        f"Message-Id: <{when:%Y%m%d%H%M%S}.{rng.getrandbits(32):08x}@mail.example.org>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"',
        "Auto-Submitted: auto-generated (failure)",
    ]
    body = (
        f"--{boundary}\n\n   ----- The following addresses had permanent fatal errors -----\n"
        f"<nobody@example.com>\n\n--{boundary}\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mail.example.org\n\nFinal-Recipient: RFC822; nobody@example.com\n"
        f"Action: failed\nStatus: 5.1.1\n\n--{boundary}--\n"
    )
    return "MAILER-DAEMON", "\n".join(head) + "\n\n" + body


def message(
    rng: random.Random, user: str, folder: str, when: datetime, big: bool, uw: bool, uid: int
) -> tuple[str, bytes]:
    """One message (envelope sender, bytes without the From_ line)."""
    if folder.startswith("var/") and rng.random() < 0.01:
        sender, text = bounce(rng, user, when)
        return sender, text.encode()
    name = f"{rng.choice(FIRST)}.{rng.choice(LAST)}"
    sender = f"{name}@example.com"
    subject = (
        rng.choice(SUBJECTS_2047)
        if rng.random() < 0.05
        else " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))).capitalize()
    )
    size = target_size(rng, big)
    content, body = body_and_type(rng, size)
    head = received(rng, f"{user}@example.org", when)
    sub = folder.split("/mail/", 1)[-1]
    if sub == "spam" or rng.random() < 0.03:
        score = round(rng.uniform(5.0, 18.0), 1)
        head += [
            "X-Spam-Flag: YES",
            "X-Spam-Level: " + "*" * int(score),
            f"X-Spam-Status: Yes, score={score} required=5.0 tests=BAYES_99,HTML_MESSAGE,\n"
            "\tRDNS_NONE,URIBL_BLACK autolearn=no version=3.4.2",
        ]
    head += [
        f"Message-ID: <{when:%Y%m%d%H%M%S}.{rng.getrandbits(40):010x}@example.com>",
        f"Date: {format_datetime(when)}",
        f"From: {name.replace('.', ' ').title()} <{sender}>",
        f"To: {user}@example.org",
        f"Subject: {subject}",
    ]
    if sub in LISTS:
        list_id, post = LISTS[sub]
        sender = post.replace("@", "-bounces@")
        head += [
            f"List-Id: <{list_id}>",
            "Precedence: list",
            f"Sender: {sender}",
            f"List-Post: <mailto:{post}>",
        ]
    head += content + flags(rng, uw, uid)
    text = "\n".join(head) + "\n\n" + body_quirks(rng, body)
    return sender, text.encode(
        "latin-1" if "iso-8859-1" in text[:4000] else "utf-8", errors="replace"
    )


def build(out: Path, users: int, messages: int, big: bool, seed: int) -> dict[str, int]:
    """Write the tree and return {folder: real message count}."""
    rng = random.Random(seed)
    names = [f"{FIRST[i % len(FIRST)]}{i // len(FIRST) or ''}" for i in range(users)]
    folders: list[Folder] = []
    for i, user in enumerate(names):
        folders.append(Folder(f"var/mail/{user}", uw=(i % 5 == 2)))
        for sub in rng.sample(FOLDERS, rng.randint(2, 7)):
            folders.append(Folder(f"home/{user}/mail/{sub}"))
    weights = [6.0 if f.rel.startswith("var/") else 1.0 for f in folders]
    start = datetime(2008, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    span = int((datetime(2024, 6, 1, tzinfo=UTC) - start).total_seconds())
    picks = rng.choices(range(len(folders)), weights=weights, k=messages)
    times = sorted(rng.randrange(span) for _ in range(messages))
    for index, when_s in zip(picks, times, strict=True):
        folder = folders[index]
        user = (
            folder.rel.split("/")[2] if folder.rel.startswith("var/") else folder.rel.split("/")[1]
        )
        when = local_time(start + timedelta(seconds=when_s))
        folder.count += 1
        sender, data = message(rng, user, folder.rel, when, big, folder.uw, folder.count)
        folder.chunks.append(
            from_line(rng, sender, when).encode() + b"\n" + data.rstrip(b"\n") + b"\n\n"
        )
    counts = {}
    for folder in folders:
        path = out / folder.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            if folder.uw:
                when = datetime(2008, 1, 1, tzinfo=timezone(timedelta(hours=1)))
                pseudo = UW_PSEUDO.format(
                    date=format_datetime(when), stamp=1199142000, last=folder.count
                )
                fh.write(
                    from_line(random.Random(0), "MAILER-DAEMON", when).encode()
                    + b"\n"
                    + pseudo.encode()
                    + b"\n"
                )
            fh.writelines(folder.chunks)
        counts[folder.rel] = folder.count
    passwd = out / "etc" / "passwd"
    passwd.parent.mkdir(parents=True, exist_ok=True)
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        + "".join(
            f"{u}:x:{2000 + i}:{2000 + i}:{u.title()},,,:/home/{u}:/bin/bash\n"
            for i, u in enumerate(names)
        )
    )
    (out / "manifest.json").write_text(
        json.dumps(
            {"seed": seed, "users": users, "messages": messages, "folders": counts},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="directory to create the tree in")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20_000, help="total over all folders")
    parser.add_argument("--big", action="store_true", help="include a few 2-8 MB messages")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.users < 1 or args.messages < 0:
        parser.error("--users must be >= 1 and --messages >= 0")
    counts = build(args.outdir, args.users, args.messages, args.big, args.seed)
    size = sum(p.stat().st_size for p in args.outdir.rglob("*") if p.is_file())
    print(
        f"{len(counts)} folders, {sum(counts.values())} messages, {size / 1e6:.1f} MB"
        f" in {args.outdir}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
