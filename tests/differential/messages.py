"""A fixed set of test messages for the procmail -> Sieve differential runs.

Deterministic (a seeded generator, no clock): the same list every run, so a
disagreement names a message that can be looked at again.  The kinds are
the ones procmail rules are written against: mailing lists (List-Id,
Sender, Precedence, Mailing-List, X-Mailing-List), spam-tagged mail
(X-Spam-Flag/Status/Level at several levels), daemon bounces
(MAILER-DAEMON, postmaster, Auto-Submitted), folded and RFC 2047 encoded
headers, every recipient header procmail's ^TO looks at, 8-bit bodies,
single-part bodies in quoted-printable and base64, header names in odd
cases, a few big messages, plus
the real messages of the sample site's spools.

Every message has a distinct envelope sender: Sieve vacation answers a
sender at most once per period, procmail's formail autoreply every time, so
reusing a sender would compare rate limiting instead of the translation.
"""

from __future__ import annotations

import binascii
import quopri
import random
from base64 import b64decode, b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from pathlib import Path

from converters.mbox.reader import read_mbox

REPO = Path(__file__).resolve().parents[2]
SPOOLS = REPO / "samples" / "site" / "var" / "mail"

#: The user whose rc files are run (the construct files and the corpus speak of these).
USER_ADDRESSES = ("alice@example.org", "user1@example.org", "user4@example.org",
                  "user5@example.net", "user6@example.com", "user3@example.com")
OTHERS = ("bob@example.org", "carol@example.net", "dave@example.com", "eve@mit.edu",
          "henry@uunet.uu.net", "boss@example.org", "frank@gatech.edu")
LISTS = (
    ("python-list", "python-list.python.org", "Python"),
    ("debian-user", "debian-user.lists.debian.org", "Debian"),
    ("perl5-porters", "perl5-porters.perl.org", "perl"),
    ("zsh-users", "zsh-users.sunsite.dk", "zsh"),
    ("vim_use", "vim_use.vim.org", "vim"),
    ("edupage", "edupage.educom.edu", "Edupage"),
    ("linux-uvc-devel", "linux-uvc-devel.lists.sourceforge.net", "uvc"),
    ("fulldisclosure", "fulldisclosure.seclists.org", "Full-Disclosure"),
)
SUBJECTS = (
    "Python news", "perl question", "Meeting tomorrow", "Re: your mail", "money for you",
    "You won a prize", "Urgent Order", "[SPAM] cheap pills", "Output from \"at\" job",
    "cron <root@host> daily", "Autobuilder failed", "send help", "Edupage 12 May",
    "Re: That movie", "lunch?", "keep me", "archive request", "subscribe", "unsubscribe",
    "Mail delivery failed: returning message to sender", "Grant Award.", "Refinery: notes",
    "[llvm/llvm-project] build broken", "Warning from the admin", "discount sunglasses",
    "template", "Thank you!", "[1234] ticket", "Re: Approved", "United Nations!!!",
)
SPAM_LEVELS = (0, 1, 3, 5, 8, 12, 20)
BODY_WORDS = ("hello", "python", "perl", "money", "meeting", "unsubscribe", "help",
              "-----BEGIN PGP SIGNED MESSAGE-----", "report", "lunch", "archive", "list")
RECIPIENT_HEADERS = ("To", "Cc", "Resent-To", "Resent-Cc", "Bcc", "Apparently-To",
                     "X-Envelope-To", "Original-To", "Delivered-To")


@dataclass(frozen=True)
class Message:
    """One test message: a name to report it by, its envelope sender and its bytes (LF)."""

    name: str
    sender: str
    data: bytes

    def with_message_id(self, msgid: str) -> bytes:
        """The message with its Message-ID replaced (or added), to find it again."""
        head, sep, body = self.data.partition(b"\n\n")
        lines = [ln for ln in _unfolded(head) if not ln.lower().startswith(b"message-id:")]
        return b"\n".join([*lines, f"Message-ID: <{msgid}>".encode()]) + sep + body


@dataclass(frozen=True)
class Delivery:
    """One message as delivered in one run: its Message-ID is unique to the run."""

    message: Message
    msgid: str
    data: bytes

    @property
    def mbox_bytes(self) -> bytes:
        """What procmail reads: the data after a From_ line naming the envelope sender."""
        return f"From {self.message.sender} Thu Oct  1 10:00:00 2026\n".encode() + self.data

    @property
    def read_mbox_bytes(self) -> bytes:
        """``mbox_bytes`` with every header field as Sieve reads it (see
        :func:`read_field`) and a single-part body's transfer encoding undone.

        That is the text Sieve compares (RFC 5228 2.7.2: unfolded, decoded,
        without the blanks around the value) and the body Cyrus's ``body :raw``
        searches (see :func:`decoded_body`): the text the translation promises
        to treat as procmail treated it.  A message whose fields are written
        plainly (``Name: value``, one line, no encoded words) reads as it is.
        """
        head, sep, body = self.data.partition(b"\n\n")
        fields = [read_field(f) for f in _unfolded(head)]
        data = b"\n".join(fields) + sep + decoded_body(head, body)
        return f"From {self.message.sender} Thu Oct  1 10:00:00 2026\n".encode() + data


def deliveries(token: str, batch: list[Message]) -> list[Delivery]:
    """The messages of one run, each with Message-ID ``<dfmTOKEN.N@differential.invalid>``."""
    out = []
    for i, m in enumerate(batch):
        msgid = f"dfm{token}.{i}@differential.invalid"
        out.append(Delivery(m, msgid, m.with_message_id(msgid)))
    return out


def read_field(field: bytes) -> bytes:
    """One header field (folding kept) as Sieve reads it, written ``Name: value``.

    The value is unfolded (RFC 5322 2.2.3: the line breaks go, the blanks
    stay), its RFC 2047 words decoded to UTF-8 and its leading and trailing
    blanks removed; blanks before the colon are not part of the name.  An
    empty value is written ``Name:``.
    """
    if b":" not in field:
        return field
    name, _, value = field.partition(b":")
    value = value.replace(b"\n", b"")
    if b"=?" in value:
        value = str(make_header(decode_header(value.decode("ascii", "replace")))).encode()
    value = value.strip(b" \t")
    return name.rstrip(b" \t") + b":" + (b" " + value if value else b"")


def _unfolded(head: bytes) -> list[bytes]:
    """Header fields as lists of physical lines joined back (folding is kept)."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    return fields


def _encoded(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"=?UTF-8?B?{b64encode(text.encode()).decode()}?="
    raw = text.encode("utf-8")
    q = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"={b:02X}" for b in raw)
    return f"=?UTF-8?Q?{q}?="


def _body(rng: random.Random, size: int = 0) -> str:
    words = [rng.choice(BODY_WORDS) for _ in range(rng.randint(5, 40))]
    lines = [" ".join(words[i:i + 8]) for i in range(0, len(words), 8)]
    text = "\n".join(lines) + "\n"
    while len(text) < size:
        text += "".join(rng.choice("abcdefghij klmnop") for _ in range(72)) + "\n"
    return text


def _generated(n: int) -> Iterator[Message]:
    rng = random.Random(20261203)
    kinds = ("personal", "list", "spam", "daemon", "folded", "encoded", "recipient",
             "eightbit", "crosspost")
    for i in range(n):
        kind = kinds[i % len(kinds)]
        me = rng.choice(USER_ADDRESSES)
        other = rng.choice(OTHERS)
        local, domain = other.split("@")
        sender = f"{local}.{i}@{domain}"
        subject = rng.choice(SUBJECTS)
        headers: list[tuple[str, str]] = [("From", f"{local.title()} <{sender}>"),
                                          ("To", me), ("Subject", subject)]
        body = _body(rng)
        charset = None
        if kind == "list":
            name, lid, label = LISTS[i // len(kinds) % len(LISTS)]
            headers[1] = ("To", f"{name}@{lid.split('.', 1)[1]}")
            variant = i // len(kinds) % 5
            if variant == 0:
                headers += [("List-Id", f"{label} list <{lid}>"), ("Precedence", "list")]
            elif variant == 1:
                headers += [("Sender", f"owner-{name}@{lid.split('.', 1)[1]}"),
                            ("Precedence", "bulk")]
            elif variant == 2:
                headers += [("Mailing-List", f"contact {name}-help@{lid}; run by ezmlm")]
            elif variant == 3:
                headers += [("X-Mailing-List", f"<{name}@{lid}>"), ("Precedence", "junk")]
            else:
                headers += [("List-Id", f"<{lid}>"), ("Cc", me)]
            headers[2] = ("Subject", f"[{label}] {subject}")
        elif kind == "spam":
            level = SPAM_LEVELS[i // len(kinds) % len(SPAM_LEVELS)]
            spam = level >= 5
            headers += [("X-Spam-Flag", "YES" if spam else "NO"),
                        ("X-Spam-Status", f"{'Yes' if spam else 'No'}, score={level}.0 "
                                          "required=5.0 tests=BAYES_99"),
                        ("X-Spam-Level", "*" * level)]
            if spam and i % 2:
                headers[2] = ("Subject", f"[SPAM] {subject}")
        elif kind == "daemon":
            variant = i // len(kinds) % 4
            if variant == 0:
                sender = f"MAILER-DAEMON@mx{i}.example.net"
                headers[0] = ("From", f"Mail Delivery System <{sender}>")
                headers[2] = ("Subject", "Mail delivery failed: returning message to sender")
                headers.append(("Content-Type", 'multipart/report; report-type=delivery-status;'
                                                ' boundary="b"'))
                body = ("--b\nContent-Type: text/plain\n\nundeliverable\n--b\nContent-Type: "
                        "message/delivery-status\n\nStatus: 5.1.1\n--b--\n")
            elif variant == 1:
                sender = f"postmaster@mx{i}.example.com"
                headers[0] = ("From", f"postmaster@mx{i}.example.com")
                headers[2] = ("Subject", "Warning from postmaster")
            elif variant == 2:
                headers += [("Auto-Submitted", "auto-replied"), ("Precedence", "bulk")]
                headers[2] = ("Subject", f"Out of office: {subject}")
            else:
                sender = f"root.{i}@host.example.org"
                headers[0] = ("From", f"Cron Daemon <root@host{i}.example.org>")
                headers[2] = ("Subject", "Cron <root@host> run-parts /etc/cron.daily")
        elif kind == "folded":
            headers[2] = ("Subject", f"{subject} and a long tail that goes on\n\tand on "
                                     f"past the fold {i}")
            headers[1] = ("To", f"{other},\n  {me},\n  list@example.net")
        elif kind == "encoded":
            text = rng.choice(("Glückwunsch liebe Gewinner", "Réunion demain", "Python ü news",
                               "money €€€", "perl – question"))
            variant = i // len(kinds) % 3
            if variant == 0:
                headers[2] = ("Subject", _encoded(text, rng))
            elif variant == 1:
                headers[2] = ("Subject", f"Re: {_encoded(text, rng)} (fwd)")
            else:  # two adjacent encoded words: the space between them is not text
                first, _, rest = text.partition(" ")
                headers[2] = ("Subject", f"{_encoded(first, rng)}\n {_encoded(' ' + rest, rng)}")
            headers[0] = ("From", f"{_encoded('Jürgen Müller', rng)} <{sender}>")
        elif kind == "recipient":
            field = RECIPIENT_HEADERS[i // len(kinds) % len(RECIPIENT_HEADERS)]
            headers[1] = ("To", "undisclosed-recipients:;")
            headers.append((field, f"Alice Example <{me}>"))
        elif kind == "eightbit":
            charset = rng.choice(("utf-8", "iso-8859-1"))
            headers += [("MIME-Version", "1.0"),
                        ("Content-Type", f"text/plain; charset={charset}"),
                        ("Content-Transfer-Encoding", "8bit")]
            body = "Grüße aus Köln, café crème, naïve\n" + body
        else:
            headers[1] = ("To", f"{other}, {me}")
            headers.append(("Cc", rng.choice(OTHERS)))
            headers.append(("Reply-To", sender))
        if i % 53 == 7:
            body = _body(rng, size=rng.choice((40_000, 150_000, 1_100_000)))
        headers += [("Date", f"Thu, {1 + i % 28:02d} Oct 2026 10:{i % 60:02d}:00 +0000"),
                    ("Message-ID", f"<gen{i}@{domain}>")]
        head = "".join(f"{k}: {v}\n" for k, v in headers)
        encoding = charset or "ascii"
        data = head.encode("ascii") + b"\n" + body.encode(encoding, "replace")
        yield Message(f"gen{i:03d}-{kind}", sender, data)


#: Body texts rules are written against, for the transfer-encoded messages.
_ENCODED_TEXTS = (
    "To unsubscribe from this list, send mail to list-request.\n",
    "viagra 100 mg, cheap, no prescription\nclick here\n",
    "-----BEGIN PGP MESSAGE-----\nhQEMA1x\n-----END PGP MESSAGE-----\n",
    "Python 3.14 is out; perl 5.42 too.\nprice=100 EUR, a=b\n",
    "Gr\u00fc\u00dfe aus K\u00f6ln, caf\u00e9 cr\u00e8me: unsubscribe here\n",
)


def _transfer_encoded() -> Iterator[Message]:
    """Single-part text bodies in quoted-printable (with soft line breaks inside
    words) and base64: procmail searches the encoded text, Cyrus the decoded."""
    for i, text in enumerate(_ENCODED_TEXTS * 2):
        sender = f"enc{i}@example.net"
        raw = text.encode("utf-8")
        if i % 2:
            cte = "base64"
            body = b64encode(raw).decode("ascii")
            body = "\n".join(body[j:j + 76] for j in range(0, len(body), 76)) + "\n"
        else:
            cte = "quoted-printable"
            body = quopri.encodestring(raw).decode("ascii")
            body = body.replace("unsubscribe", "unsub=\nscribe", 1)
        head = (f"From: Enc <{sender}>\nTo: alice@example.org\nSubject: encoded body {i}\n"
                f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                f"Content-Transfer-Encoding: {cte}\n"
                f"Date: Thu, 01 Oct 2026 11:{i:02d}:00 +0000\nMessage-ID: <enc{i}@example.net>\n")
        yield Message(f"enc{i:02d}-{cte}", sender, (head + "\n" + body).encode("ascii"))


def _odd_case() -> Iterator[Message]:
    """Header names in other cases than the usual (some mailers write 'subject:'):
    procmail and Sieve compare names without regard to case, procmail with D not."""
    for i, (subj, frm, to) in enumerate((("subject", "from", "to"), ("SUBJECT", "FROM", "TO"),
                                          ("SuBjEcT", "fRoM", "cc"))):
        sender = f"case{i}@example.com"
        head = (f"{frm}: Case <{sender}>\n{to}: alice@example.org\n"
                f"{subj}: URGENT: python perl spam\nDate: Thu, 01 Oct 2026 12:0{i}:00 +0000\n"
                f"message-id: <case{i}@example.com>\n")
        yield Message(f"case{i}-{subj}", sender, (head + "\nURGENT unsubscribe\n").encode())


def _odd_spacing() -> Iterator[Message]:
    """Header values with other blanks than ``Name: value``: none or several after the
    colon, a tab, blanks at the end, a value that starts on a folded line, a fold
    between two words, a blank before the colon, an empty value."""
    subjects = ("Subject:urgent python news", "Subject:  urgent python news",
                "Subject:\turgent perl news", "Subject: urgent python news  ",
                "Subject: meeting about perl\t", "Subject:\n urgent: money for python",
                "Subject: your order\n number 12 python", "Subject : urgent perl",
                "Subject:", "Subject: ")
    for i, subject in enumerate(subjects):
        sender = f"space{i}@example.com"
        spam = "X-Spam-Status: Yes, score=9.1  " if i % 2 else "X-Spam-Flag:YES"
        head = (f"From: Space <{sender}>\nTo:  alice@example.org \n{subject}\n{spam}\n"
                f"Date: Thu, 01 Oct 2026 13:0{i}:00 +0000\nMessage-ID: <space{i}@example.com>\n")
        yield Message(f"space{i}", sender, (head + "\nhello python\n").encode())


def decoded_body(head: bytes, body: bytes) -> bytes:
    """The body as Cyrus's ``body :raw`` gives it: a single-part message's
    quoted-printable or base64 is decoded (multipart bodies stay as sent)."""
    fields = {f.split(b":", 1)[0].strip().lower(): f.split(b":", 1)[1].strip().lower()
              for f in _unfolded(head) if b":" in f}
    if fields.get(b"content-type", b"").startswith(b"multipart/"):
        return body
    cte = fields.get(b"content-transfer-encoding", b"")
    try:
        if cte == b"quoted-printable":
            return quopri.decodestring(body)
        if cte == b"base64":
            return b64decode(body)
    except (binascii.Error, ValueError):
        return body
    return body


def _spool_messages() -> Iterator[Message]:
    for spool in sorted(SPOOLS.glob("*")):
        for m in read_mbox(spool):
            if not m.from_line:
                continue
            local, _, domain = m.from_line.split()[1].decode("ascii", "replace").partition("@")
            sender = f"{local}.{spool.name}{m.index}@{domain or 'example.org'}"
            data = m.data.replace(b"\r\n", b"\n")
            yield Message(f"site-{spool.name}-{m.index:02d}", sender, data)


def messages(generated: int = 300) -> list[Message]:
    """``generated`` synthetic messages followed by the sample site's spooled mail."""
    return [*_generated(generated), *_transfer_encoded(), *_odd_case(), *_odd_spacing(),
            *_spool_messages()]
