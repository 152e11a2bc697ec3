"""procmail's egrep dialect -> Sieve tests that match exactly the same mail.

procmail greps the whole header as one multi-line string (folded lines
joined), case-insensitively unless ``D``; Sieve tests one header value at a
time.  So a pattern is translatable when each ``|`` branch is anchored at a
header name (``^Subject:...``) and stays on that header's line: the part
after the colon becomes a test on the value.  The cheapest exact match type
is chosen (``:contains`` / ``:matches`` / ``:is``) and ``:regex`` (POSIX ERE)
otherwise.  Anything else is reported, never approximated silently.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from .sieve import quote, string_list

_NON_WORD = "[^a-zA-Z0-9_]"
_ERE_SPECIAL = set(".[]()*+?{}|^$\\")

#: The headers ^TO_ and ^TO look at (config.h: (Original-)?(Resent-)?(To|Cc|Bcc),
#: X-Envelope-To, Apparently-To, Apparently-Resent-To).
TO_HEADERS = tuple(
    f"{o}{r}{h}" for o in ("", "Original-") for r in ("", "Resent-") for h in ("To", "Cc", "Bcc")
) + ("X-Envelope-To", "Apparently-To", "Apparently-Resent-To")

#: Header names common in mail (RFC 5322, 2369, 2919, 3834, 2045, and the usual
#: X- fields of MTAs, filters and list managers).  ``^Name.*x`` without a colon is
#: translated as a test of Name only when Name is one of these and no other one
#: begins with it.
KNOWN_HEADERS = (
    "Return-Path", "Received", "Received-SPF", "Authentication-Results", "DKIM-Signature",
    "Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID", "In-Reply-To",
    "References", "Subject", "Comments", "Keywords", "Resent-Date", "Resent-From",
    "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Bcc", "Resent-Message-ID",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
    "Content-ID", "Content-Description", "Content-Length", "Organization", "Priority",
    "Importance", "Precedence", "Auto-Submitted", "Delivered-To", "Errors-To",
    "Disposition-Notification-To", "Mail-Followup-To", "Mail-Reply-To", "Apparently-To",
    "Apparently-Resent-To", "Original-To", "List-Id", "List-Post", "List-Help",
    "List-Subscribe", "List-Unsubscribe", "List-Archive", "List-Owner", "Mailing-List",
    "Status", "X-Status", "X-Keywords", "X-UID", "X-Mailer", "X-Priority", "X-Loop",
    "X-Original-To", "X-Envelope-To", "X-Envelope-From", "X-Mailing-List", "X-BeenThere",
    "X-Spam-Flag", "X-Spam-Status", "X-Spam-Level", "X-Spam-Report",
    "X-Spam-Checker-Version", "X-Virus-Scanned", "X-Virus-Status", "User-Agent",
)

_SENDER_HEADERS = ("From", "Sender", "Resent-From", "Resent-Sender", "X-Envelope-From")
_DAEMON_TAIL = (
    "^([^>]*[^(.%@a-z0-9])?(Post(ma?(st(e?r)?|n)|office)|(send)?Mail(er)?|daemon|m(mdf|ajordomo)"
    "|n?uucp|LIST(SERV|proc)|NETSERV|o(wner|ps)|r(e(quest|sponse)|oot)|b(ounce|bs\\.smtp)|echo"
    "|mirror|s(erv(ices?|er)|mtp(error)?|ystem)|A(dmin(istrator)?|MMGR|utoanswer))"
    "(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$"
)
_MAILER_TAIL = (
    "^([^>]*[^(.%@a-z0-9])?(Post(ma(st(er)?|n)|office)|(send)?Mail(er)?|daemon|mmdf|n?uucp|ops"
    "|r(esponse|oot)|(bbs\\.)?smtp(error)?|s(erv(ices?|er)|ystem)|A(dmin(istrator)?|MMGR))"
    "(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$"
)
_FROM_LINE_CAVEAT = (
    "the From_ envelope line is tested as the envelope sender (an empty sender counts as "
    "MAILER-DAEMON, as sendmail writes it); procmail's look at the line after it is dropped"
)


@dataclass(frozen=True)
class Tok:
    """One regex token.

    kind is lit, any, class, ``(``, ``)``, ``|``, ``*``, ``+``, ``?``, bol, eol, bos
    (``^^``), wbs/wbe (``\\<``/``\\>``) or split (``\\/``).
    """

    kind: str
    text: str = ""


@dataclass
class Translated:
    """A Sieve test for one procmail pattern, or the reason there is none."""

    test: str | None
    requires: set[str] = field(default_factory=set)
    reason: str = ""
    caveats: tuple[str, ...] = ()
    capture: int | None = None


class Untranslatable(Exception):
    """A pattern that has no exact Sieve equivalent; the message says why."""


def tokenize(rx: str) -> list[Tok]:
    """Split a procmail regex into tokens, with its parentheses as procmail reads them."""
    return _procmail_parens(_lex(rx))


def unbalanced(rx: str) -> bool:
    """Whether procmail had to mend the parentheses (and logged "Invalid regexp")."""
    toks = _lex(rx)
    return _procmail_parens(toks) != toks


def _procmail_parens(toks: list[Tok]) -> list[Tok]:
    """Unbalanced parentheses as procmail 3.22 matches them: groups still open at the
    end close there (``(a|b`` is ``(a|b)``), and a ``)`` with no group to close ends
    the pattern (``a)|b`` matches what ``a`` matches)."""
    depth = 0
    for i, t in enumerate(toks):
        if t.kind == ")" and not depth:
            toks = toks[:i]
            break
        depth += {"(": 1, ")": -1}.get(t.kind, 0)
    return toks + [Tok(")")] * depth


def _lex(rx: str) -> list[Tok]:
    """Split a procmail regex into tokens (procmailrc(5) "Extended regular expressions")."""
    toks: list[Tok] = []
    i, n = 0, len(rx)
    while i < n:
        c = rx[i]
        if c == "\\":
            nxt = rx[i + 1] if i + 1 < n else "\\"
            special = {"<": Tok("wbs"), ">": Tok("wbe"), "/": Tok("split")}
            toks.append(special.get(nxt, Tok("lit", nxt)))
            i += 2
            continue
        if c == "^":
            if rx.startswith("^^", i):
                toks.append(Tok("bos"))
                i += 2
                continue
            toks.append(Tok("bol"))
        elif c == "$":
            toks.append(Tok("eol"))
        elif c == ".":
            toks.append(Tok("any"))
        elif c == "[":
            j = i + 1
            if j < n and rx[j] == "^":
                j += 1
            if j < n and rx[j] == "]":
                j += 1
            while j < n and rx[j] != "]":  # no escapes inside brackets: [\] is one '\'
                j += 1
            if j >= n:
                raise Untranslatable(f"unterminated character class in {rx!r}")
            toks.append(Tok("class", rx[i : j + 1]))
            i = j + 1
            continue
        elif c in "()|*+?":
            toks.append(Tok(c))
        else:
            toks.append(Tok("lit", c))
        i += 1
    return _literal_repeats(toks)


def _literal_repeats(toks: list[Tok]) -> list[Tok]:
    """A repeat right after a repeat is a literal character in procmail (3.22/3.23):
    ``a+?b`` matches ``a?b`` and ``aa?b`` but not ``ab``, ``a**b`` matches ``a*b``.
    (Cyrus's PCRE would read ``a+?`` as lazy, ``a?+`` as possessive, refuse ``a**``.)"""
    out: list[Tok] = []
    for t in toks:
        if t.kind in "*+?" and len(t.kind) == 1 and out and out[-1].kind in "*+?" \
                and len(out[-1].kind) == 1:
            out.append(Tok("lit", t.kind))
        else:
            out.append(t)
    return out


def split_branches(toks: list[Tok]) -> list[list[Tok]]:
    """Split at top-level ``|``."""
    out: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "(":
            depth += 1
        elif t.kind == ")":
            depth -= 1
        if t.kind == "|" and depth == 0:
            out.append([])
        else:
            out[-1].append(t)
    return out


_CLASS_ESCAPE = set("\\]^-[")


def _class_ere(text: str) -> str:
    """A procmail bracket expression as Cyrus's regex library (PCRE) and Python read it.

    procmail (3.23) knows no ``[:digit:]`` classes and no escapes in brackets
    (``[\\.]`` is a backslash or a dot), and a ``-`` right after a range starts
    another one from that range's end (``[0-9-_]`` is 0-9 and 9-_, which holds
    ``:;<=>?@``).  In PCRE ``[``, ``]``, ``\\``, ``^`` and ``-`` inside brackets
    must be escaped to stay plain characters.  A reversed range (``z-a``)
    makes Cyrus refuse the whole script, so it is refused here.
    """
    neg = text.startswith("[^")
    chars = text[2 if neg else 1 : -1]
    items: list[tuple[str, str]] = []  # (lo, hi) ranges; a single character is (c, c)
    i = 0
    while i < len(chars):
        if chars[i] == "-" and items and i + 1 < len(chars):
            lo, hi = items[-1][1], chars[i + 1]
            if lo > hi:
                raise Untranslatable(f"the range {lo}-{hi} in {text} is reversed")
            if items[-1][0] == items[-1][1]:
                items.pop()  # 'a' then '-c': the one range a-c
            items.append((lo, hi))
            i += 2
        else:
            items.append((chars[i], chars[i]))
            i += 1
    body = "".join(_class_char(lo) + ("" if lo == hi else "-" + _class_char(hi))
                   for lo, hi in items)
    return ("[^" if neg else "[") + body + "]"


def _class_char(ch: str) -> str:
    return "\\" + ch if ch in _CLASS_ESCAPE else ch


def to_ere(toks: list[Tok], *, allow_eol_end: bool = True,
           check: bool = True) -> tuple[str, int | None]:
    """ERE for tokens that stay within one header value; returns (ere, capture group)."""
    out: list[str] = []
    groups = 0
    capture: int | None = None
    for idx, t in enumerate(toks):
        k = t.kind
        if k == "lit":
            out.append("\\" + t.text if t.text in _ERE_SPECIAL else t.text)
        elif k == "any":
            out.append(".")
        elif k == "class":
            out.append(_class_ere(t.text))
        elif k in "()|*+?":
            if k == "(":
                groups += 1
            # procmail matches the part left of \/ as short as it can
            lazy = k in "*+?" and any(x.kind == "split" for x in toks[idx:])
            out.append(k + ("?" if lazy else ""))
        elif k == "wbs":
            groups += 1
            out.append(f"(^|{_NON_WORD})")
        elif k == "wbe":
            groups += 1
            out.append(f"({_NON_WORD}|$)")
        elif k == "split":
            if capture is not None:
                raise Untranslatable("more than one \\/ in the pattern")
            groups += 1
            capture = groups
            out.append("(")
        elif k == "eol" and allow_eol_end and _ends_match(toks, idx + 1):
            out.append("$")
        elif k == "eol":
            raise Untranslatable("the pattern continues past the end of a line (spans headers)")
        elif k == "bol":
            raise Untranslatable("'^' in the middle of the pattern (spans headers)")
        else:
            raise Untranslatable("'^^' anchors at the start or end of the whole header or body")
    if capture is not None:
        out.append(")")
    if check:
        _check_balanced(toks)
    return "".join(out), capture


def _ends_match(toks: list[Tok], start: int) -> bool:
    """Nothing after ``toks[start - 1]`` (a ``$``) goes on matching in the same line.

    True when the rest only ends the ``$``'s branch: other branches of its
    groups (skipped), the groups' closing ``)`` and repeats of them, as in
    ``(a$|b)`` or ``(a|b$)*``.  Then ``$`` means the end of the (unfolded)
    field in both engines; anything else after it would read the next line.
    """
    depth = 0
    i = start
    while i < len(toks):
        k = toks[i].kind
        if k == "|":
            depth_here = 0
            while i < len(toks) and not (toks[i].kind == ")" and depth_here == 0):
                depth_here += {"(": 1, ")": -1}.get(toks[i].kind, 0)
                i += 1
            if i == len(toks):
                return depth == 0  # top-level alternatives after the branch
            continue
        if k == ")":
            depth -= 1
        elif k not in "*+?":
            return False
        i += 1
    return True


def _check_balanced(toks: list[Tok]) -> None:
    """POSIX regcomp refuses unbalanced parentheses and a repeat with nothing to repeat."""
    depth = 0
    prev = None
    for t in toks:
        if t.kind in "*+?" and (prev is None or prev.kind in ("(", "|")):
            raise Untranslatable(f"'{t.kind}' with nothing before it to repeat")
        depth += {"(": 1, ")": -1}.get(t.kind, 0)
        if depth < 0:
            raise Untranslatable("unbalanced parentheses")
        prev = t
    if depth:
        raise Untranslatable("unbalanced parentheses")


def _is_ws_atom(t: Tok) -> bool:
    if t.kind == "lit":
        return t.text in " \t"
    if t.kind == "class" and not t.text.startswith("[^"):
        return set(t.text[1:-1]) <= set(" \t") and len(t.text) > 2
    return False


def _strip_leading_ws(toks: list[Tok]) -> list[Tok]:
    """Sieve header values have leading whitespace removed; drop patterns that only match it."""
    i = 0
    while i < len(toks) and _is_ws_atom(toks[i]):
        i += 1
        if i < len(toks) and toks[i].kind in "*+?":
            i += 1
    return toks[i:]


def _glob_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _value_start(toks: list[Tok]) -> None:
    """Refuse patterns whose meaning is the exact whitespace after ``Name:``.

    Sieve's value starts after that whitespace (RFC 5228 2.7.2); the
    translation takes the usual one space for it.  A pattern needing none
    (``^Subject:urgent``), two or a tab (``^Subject:  x``), a word boundary
    right at the value's start (``^Subject: \\<x``: procmail's ``\\<`` eats a
    non-word character) or a ``\\/`` capture that may start on the whitespace
    (``^Subject:\\/.*``, ``^Subject: *\\/.*``: MATCH keeps it) has no such reading.
    """
    i, needed = 0, []
    while i < len(toks) and _is_ws_atom(toks[i]):
        optional = i + 1 < len(toks) and toks[i + 1].kind in "*?"
        if not optional:
            needed.append(toks[i])
        i += 2 if optional or (i + 1 < len(toks) and toks[i + 1].kind == "+") else 1
    rest = toks[i:]
    if len(needed) > 1 or needed and needed[0] != Tok("lit", " ") and not _can_be(needed[0], " "):
        raise Untranslatable("the pattern needs other whitespace after the colon than one "
                             "space; Sieve removes it from every header value")
    first = rest[0] if rest else None
    if first is None:
        return
    end = _group_end(rest, 0) if first.kind == "(" else 0
    if end and end + 1 < len(rest) and rest[end + 1].kind in "*?":
        return  # an optional group first: the value may start anyhow
    starts = ([b[0] for b in split_branches(rest[1:end]) if b] if end else [first])
    if i == 0 and any(t.kind == "lit" or t.kind == "class" and not _can_be(t, " ")
                      for t in starts):
        raise Untranslatable("the pattern needs the value right after the colon, with no "
                             "space; Sieve removes the space from every header value")
    if needed and first.kind == "wbs":
        raise Untranslatable("'\\<' right after 'Name: ' needs a non-word character there, "
                             "which Sieve's value (the space removed) does not show")
    if first.kind == "split" and not needed and (len(rest) < 2 or rest[1].kind in (
            "any", "wbs", "wbe") or _can_be(rest[1], " ")):
        raise Untranslatable("the \\/ capture may start on the whitespace after the colon, "
                             "which MATCH keeps and Sieve's value does not have")


def _value_end(toks: list[Tok]) -> None:
    """Refuse patterns that need whitespace at the end of the value (``^Subject:.* $``).

    Sieve removes trailing whitespace from every header value, so such a
    pattern never matches there; procmail matched padded or folded values.
    """
    if len(toks) < 2 or toks[-1].kind != "eol":
        return
    last = toks[-2]
    if last.kind == "+" and len(toks) >= 3:
        last = toks[-3]
    elif last.kind in "*?":
        return
    if _is_ws_atom(last):
        raise Untranslatable("the pattern needs whitespace at the end of the value, which "
                             "Sieve removes from every header value")


def value_test(command: str, names: list[str], toks: list[Tok], comparator: str) -> Translated:
    """A test of header values (or envelope parts) against the tokens after ``Name:``."""
    stripped = _strip_leading_ws(toks)
    if toks and not stripped and command == "header" and any(
            _is_ws_atom(t) and (i + 1 == len(toks) or toks[i + 1].kind not in "*?")
            for i, t in enumerate(toks)):
        raise Untranslatable("the pattern tests only the whitespace after the colon, which "
                             "Sieve removes from every header value")
    if command == "header":
        _value_start(toks)
        _value_end(toks)
    toks = stripped
    listed = string_list(names)
    anchored = True
    if len(toks) >= 2 and toks[0].kind == "any" and toks[1].kind == "*":
        toks, anchored = toks[2:], False
    while (len(toks) >= 2 and toks[-2].kind == "any" and toks[-1].kind == "*"
           and not any(t.kind == "split" for t in toks)):
        toks = toks[:-2]
    at_end = bool(toks) and toks[-1].kind == "eol"
    core = toks[:-1] if at_end else toks
    if any(t.kind == "split" for t in toks) and len(names) > 1:
        raise Untranslatable(
            "\\/ with several header names: procmail takes the first match in the header's "
            "order, Sieve the first name in its list that matches")
    if all(t.kind == "lit" for t in core):
        lit = "".join(t.text for t in core)
        if not lit and not at_end and command == "header":
            return Translated(exists_any(names))
        if not anchored and not at_end:
            return Translated(f"{command}{comparator} :contains {listed} {quote(lit)}")
        if anchored and at_end:
            return Translated(f"{command}{comparator} :is {listed} {quote(lit)}")
        glob = ("" if anchored else "*") + _glob_escape(lit) + ("" if at_end else "*")
        return Translated(f"{command}{comparator} :matches {listed} {quote(glob)}")
    ere, capture = to_ere(toks)
    ere = ("^" if anchored else "") + ere
    return Translated(f"{command}{comparator} :regex {listed} {quote(ere)}", {"regex"},
                      capture=capture)


def exists_any(names: list[str] | tuple[str, ...]) -> str:
    """``exists`` on a list is true only when *every* header is there: one per name."""
    if len(names) == 1:
        return f"exists {quote(names[0])}"
    return "anyof (" + ", ".join(f"exists {quote(n)}" for n in names) + ")"


def _header_name(toks: list[Tok]) -> tuple[list[str], list[Tok], bool] | None:
    """``Name:`` or ``(A|B):`` after ``^``; returns names, rest, and whether a colon ended it."""
    i = 0
    prefix = _optional_prefix(toks)
    if prefix is not None:
        word, rest = prefix
        inner = _header_name(rest)
        if inner is None:
            return None
        names, after, colon = inner
        names = list(dict.fromkeys(n for name in names for n in (name, word + name)))
        if len(names) > _MAX_BRANCHES:
            raise Untranslatable(f"the header-name alternatives expand to more than "
                                 f"{_MAX_BRANCHES} header names")
        return names, after, colon
    if toks and toks[0].kind == "(":
        names, cur = [], ""
        i = 1
        while i < len(toks) and toks[i].kind in ("lit", "|"):
            if toks[i].kind == "|":
                names.append(cur)
                cur = ""
            else:
                cur += toks[i].text
            i += 1
        if i >= len(toks) or toks[i].kind != ")":
            return None
        names.append(cur)
        i += 1
        if i < len(toks) and toks[i] == Tok("lit", ":") and all(
            re.fullmatch(r"[A-Za-z0-9_-]+", x) for x in names
        ):
            return names, toks[i + 1 :], True
        return None
    name = ""
    while i < len(toks) and toks[i].kind == "lit" and re.fullmatch(r"[A-Za-z0-9_-]", toks[i].text):
        name += toks[i].text
        i += 1
    if not name:
        return None
    if i < len(toks) and toks[i] == Tok("lit", ":"):
        return [name], toks[i + 1 :], True
    return [name], toks[i:], False


def _optional_prefix(toks: list[Tok]) -> tuple[str, list[Tok]] | None:
    """``(X-Envelope-)?`` before a header name: the literal prefix and what follows."""
    if not toks or toks[0].kind != "(":
        return None
    i, word = 1, ""
    while i < len(toks) and toks[i].kind == "lit" and re.fullmatch(r"[A-Za-z0-9_-]", toks[i].text):
        word += toks[i].text
        i += 1
    if word and toks[i : i + 2] == [Tok(")"), Tok("?")]:
        return word, toks[i + 2 :]
    return None


def _header_branch(toks: list[Tok], comparator: str) -> Translated:
    if not toks or toks[0].kind != "bol":
        if toks and toks[0].kind == "bos":
            raise Untranslatable("'^^' anchors at the start of the whole header")
        raise Untranslatable("the pattern is not anchored at a header name (^Name:), so it "
                             "can match anywhere in the header, which Sieve cannot test")
    parsed = _header_name(toks[1:])
    if parsed is None:
        raise Untranslatable("the pattern does not start with a literal header name")
    names, rest, colon = parsed
    if colon:
        return value_test("header", names, rest, comparator)
    if names[0].lower() == "from" and rest and rest[0] == Tok("lit", " "):
        # ^From x : the From_ envelope line, which sendmail writes from the envelope sender.
        if not _within_sender(rest[1:]):
            return Translated("false", caveats=(
                "'^From ' ending in '$' never matched: the From_ line goes on with the date",))
        result = value_test("envelope :all", ["from"], rest[1:], comparator)
        result.requires |= {"envelope"}
        result.caveats += (_FROM_LINE_CAVEAT,)
        try:
            daemon = _python(rest[1:], bool(comparator)).match("MAILER-DAEMON ") is not None
        except re.error:
            daemon = False
        if daemon and result.test != 'envelope :all :matches "from" "*"':
            # sendmail writes "From MAILER-DAEMON" for the empty sender of a bounce
            result.test = f'anyof ({result.test}, envelope :all :is "from" "")'
        return result
    # ^From.*x : header names that merely start with the text, and the From_ line.
    # A bracket expression or group here may still be part of the name (^X[-_]*Spam:):
    # testing the header "X" would never match, so it is refused.
    if not rest or rest[0].kind != "any" or len(names) != 1:
        raise Untranslatable("a header-name prefix without ':' that Sieve cannot enumerate")
    name = names[0]
    if Tok("lit", ":") in rest or any(t.kind == "split" for t in rest):
        raise Untranslatable(f"'^{name}' without ':' followed by a ':' or a \\/: the '.*' may "
                             "cover the header's own colon, which Sieve's value never holds")
    longer = [h for h in KNOWN_HEADERS if h.lower().startswith(name.lower())
              and h.lower() != name.lower()]
    if name.lower() not in {h.lower() for h in KNOWN_HEADERS} or longer:
        # ^X-Spam.*YES means X-Spam-Flag, X-Spam-Status...: a test of a header named
        # X-Spam would never match; ^Received.* also covers Received-SPF.
        raise Untranslatable(
            f"'^{name}' without ':' matches every header whose name begins with '{name}'"
            + (f" ({', '.join(longer[:4])}{', ...' if len(longer) > 4 else ''})"
               if longer else "") + ", which Sieve cannot enumerate")
    result = value_test("header", [name], rest, comparator)
    caveats = (f"'^{name}' without ':' also matched headers whose names begin with "
               f"'{name}' (no common one does); only the {name}: header is tested",)
    if name.lower() == "from" and rest[0].kind == "any" and _within_sender(rest):
        env = value_test("envelope :all", ["from"], rest, comparator)
        result = Translated(f"anyof ({result.test}, {env.test})",
                            result.requires | env.requires | {"envelope"})
        caveats += (_FROM_LINE_CAVEAT,)
    result.caveats = caveats
    return result


#: The words of a From_ line's date (ctime: weekday, month; and common zone names).
_DATE_WORDS = ("mon tue wed thu fri sat sun jan feb mar apr may jun jul aug sep oct nov "
               "dec utc gmt est edt cst cdt mst mdt pst pdt cet cest eet eest wet west bst "
               "ist jst msk aest aedt").split()


def _within_sender(toks: list[Tok]) -> bool:
    """Whether a ``^From `` pattern can match the From_ line at all; refused when it
    can reach past the sender into the date.

    The From_ line is ``From SENDER DATE`` (ctime, maybe a zone); Sieve's
    envelope test sees SENDER only.  A match stays in SENDER when whatever
    follows a token that can match the space before DATE (``.``, a class,
    ``\\<``, and a leading ``.*``) holds text no date holds: a character other
    than letters, digits and ``:+-``, or a word no date word contains.  So
    ``.*@example.org``, ``.*MAILER-DAEMON`` and ``bob@x.com`` are the sender,
    ``.*2026`` and ``.*Thu`` reach the date, and ``x.com$`` never matched in
    procmail (the date follows): False.
    """
    lead = toks[:2] == [Tok("any"), Tok("*")]
    body = toks[2:] if lead else toks
    at_end = bool(body) and body[-1].kind == "eol"
    core = body[:-1] if at_end else body
    if any(t.kind == "eol" for t in core) or lead and not _dateless(core) or any(
            (t.kind in ("any", "wbs", "wbe") or _can_be(t, " ")) and not _dateless(core[i + 1:])
            for i, t in enumerate(core)):
        raise Untranslatable(_PAST_SENDER)
    return not at_end


_PAST_SENDER = ("the pattern can reach past the sender into the date on the From_ line "
                "('From SENDER DATE'), which Sieve's envelope test does not see")


def _dateless(toks: list[Tok]) -> bool:
    """Tokens that must match some text no From_ line date holds."""
    if any(t.kind == "lit" and not (t.text.isalnum() or t.text in ":+- ") for t in toks):
        return True
    words = "".join(t.text.lower() if t.kind == "lit" and t.text.isalpha() else " "
                    for t in toks).split()
    return any(not any(w in d for d in _DATE_WORDS) for w in words)


def _macro(rx: str, comparator: str) -> Translated | None:
    """^TO_, ^TO, ^FROM_DAEMON, ^FROM_MAILER at the start of a pattern."""
    if rx in ("^FROM_DAEMON", "^FROM_MAILER"):
        tail = _DAEMON_TAIL if rx == "^FROM_DAEMON" else _MAILER_TAIL
        tests = []
        if rx == "^FROM_DAEMON":
            tests += [
                'exists "Mailing-List"',
                'header :regex "Precedence" "(junk|bulk|list)"',
                'header :matches "To" "Multiple recipients of *"',
            ]
        tests += [
            f"header :regex {string_list(_SENDER_HEADERS)} {quote(tail)}",
            f"envelope :all :regex \"from\" {quote(tail)}",
            'envelope :all :is "from" ""',
        ]
        return Translated("anyof (" + ", ".join(tests) + ")", {"regex", "envelope"},
                          caveats=(_FROM_LINE_CAVEAT,))
    for macro, boundary in (("^TO_", "[^-a-zA-Z0-9_.]"), ("^TO", "[^a-zA-Z]")):
        if rx.startswith(macro):
            rest = tokenize(rx[len(macro) :])
            if len(split_branches(rest)) > 1:
                raise Untranslatable(f"an alternation after {macro}")
            names = string_list(TO_HEADERS)
            if not rest:
                return Translated(exists_any(TO_HEADERS))
            if any(t.kind == "split" for t in rest):
                raise Untranslatable(
                    f"\\/ after {macro}: procmail takes the first match in the header's "
                    "order, Sieve the first of the recipient headers in its list")
            ere, capture = to_ere(rest)
            return Translated(
                f"header{comparator} :regex {names} {quote(f'(^|{boundary})' + ere)}",
                {"regex"}, capture=None if capture is None else capture + 1)
    if "^TO" in rx or "^FROM_DAEMON" in rx or "^FROM_MAILER" in rx:
        raise Untranslatable("a ^TO/^FROM_ macro inside a larger pattern")
    return None


#: Told of a pattern whose parentheses procmail mended (see :func:`_procmail_parens`).
UNBALANCED = ("procmail logs \"Invalid regexp\" for its unbalanced parentheses and matches "
              "as if open groups closed at the end and a stray ')' ended the pattern; the "
              "Sieve test does the same (worth correcting the rule)")


def pattern_test(rx: str, *, header: bool, body: bool, case_sensitive: bool) -> Translated:
    """:func:`_pattern_test`, telling of parentheses procmail mended; a case-sensitive
    header test is reported with its nearest Sieve form (header names have no case
    in Sieve)."""
    result = _pattern_test(rx, header=header, body=body, case_sensitive=case_sensitive)
    if result.test is not None and unbalanced(rx):
        result.caveats += (UNBALANCED,)
    if result.test is not None and case_sensitive and header and not body:
        return Translated(None, reason=(
            "with D procmail compares the header name's case too ('subject:' is not "
            "'Subject:'), Sieve never does; the nearest Sieve test is " + result.test))
    return result


def _pattern_test(rx: str, *, header: bool, body: bool, case_sensitive: bool) -> Translated:
    """The Sieve test for one procmail regex condition (without ``!``).

    Header text is compared as Sieve defines it (RFC 5228 2.7.2): each field
    unfolded and RFC 2047-decoded, which is the text the user reads and the
    text procmail would have matched had the sender not encoded it.  A
    pattern that looks at the encoding itself (``=?charset?``) or at 8-bit
    bytes has no such reading and is reported (see :func:`_raw_only`).
    """
    comparator = ' :comparator "i;octet"' if case_sensitive else ""
    try:
        if _matches_empty(rx, case_sensitive):
            return Translated("true")
        if header and not body:
            _raw_only(tokenize(rx))
            macro = _macro(rx, comparator)
            if macro is not None:
                return macro
            branches = [_header_branch(d, comparator)
                        for b in split_branches(tokenize(rx)) for d in _distribute(b)]
        elif body and not header:
            branches = [_body_branch(b, comparator) for b in split_branches(tokenize(rx))]
        else:
            raise Untranslatable("an HB pattern searches header and body as one text")
    except Untranslatable as exc:
        return Translated(None, reason=str(exc))
    if len(branches) == 1:
        return branches[0]
    if any(b.capture for b in branches):
        return Translated(None, reason="\\/ inside an alternation of several headers")
    return Translated(
        "anyof (" + ", ".join(str(b.test) for b in branches) + ")",
        set().union(*(b.requires for b in branches)),
        caveats=tuple(dict.fromkeys(c for b in branches for c in b.caveats)),
    )


def _can_be(t: Tok, ch: str) -> bool:
    """Whether an explicit literal or bracket token matches ``ch`` (``.`` is not counted)."""
    if t.kind == "lit":
        return t.text.lower() == ch.lower()
    if t.kind == "class":
        try:
            return python_regex(t.text, False).fullmatch(ch) is not None
        except re.error:
            return False
    return False


def _raw_only(toks: list[Tok]) -> None:
    """Refuse header patterns whose meaning is in the raw bytes Sieve never sees.

    ``=?`` / ``?=`` / ``?B?`` / ``?Q?`` spell RFC 2047 encoded words (rules
    that throw away mail by charset, ``=\\?(gb2312|big5)``): Cyrus decodes
    them before any test, so such a rule would silently stop matching.  8-bit
    characters depend on the charset the rc file and the mail were written in,
    and Cyrus stores raw 8-bit header bytes as 'X'.
    """
    useful = [t for t in toks if t.kind not in ("(", ")")]
    for a, b in zip(useful, useful[1:], strict=False):
        if (_can_be(a, "=") and _can_be(b, "?")) or (_can_be(a, "?") and _can_be(b, "=")):
            raise Untranslatable(
                "the pattern looks at RFC 2047 encoded words ('=?charset?...?='), which "
                "Sieve never sees: Cyrus decodes every header before it compares it")
    for a, b, c in zip(useful, useful[1:], useful[2:], strict=False):
        if _can_be(a, "?") and (_can_be(b, "b") or _can_be(b, "q")) and _can_be(c, "?"):
            raise Untranslatable(
                "the pattern looks at the encoding of RFC 2047 encoded words ('?B?', "
                "'?Q?'), which Sieve never sees: Cyrus decodes every header first")
    text = "".join(t.text for t in toks if t.kind == "lit").lower()
    named = [c for c in _CHARSETS if c in text]
    if named:
        raise Untranslatable(
            f"the pattern names the charset {named[0]}: in a header it can only be "
            "the charset of an RFC 2047 encoded word, which Sieve never sees (Cyrus "
            "decodes every header first)")
    if any(ord(ch) > 127 for t in toks for ch in t.text):
        raise Untranslatable(
            "8-bit characters in a header pattern: their bytes depend on the charset the rc "
            "file was written in, Sieve compares decoded UTF-8 text, and Cyrus stores raw "
            "8-bit header bytes as 'X'")


#: Charset names: in a header pattern they can only be about RFC 2047 words.
_CHARSETS = ("gb2312", "gbk", "gb18030", "big5", "iso-2022", "euc-kr", "euc-jp", "euc-cn",
             "ks_c_5601", "koi8", "shift_jis", "shift-jis", "sjis", "windows-125", "cp125",
             "iso-8859", "hz-gb", "tis-620", "us-ascii", "utf-8")

#: Most header-name alternatives one pattern may expand into.
_MAX_BRANCHES = 64


def _distribute(toks: list[Tok]) -> list[list[Tok]]:
    """``^(Sender:|From[: ]).*x`` -> ``^Sender:.*x``, ``^From:.*x``, ``^From .*x``.

    Groups and plain bracket expressions (``[Ss]ubject``, ``From[: ]``) in the
    header-name part, before the first top-level ':' or repeat, are multiplied
    out when nothing repeats them: ``(A|B)C`` and ``AC|BC`` match the same text,
    and each result names one header.  A plain
    ``^(A|B):`` stays one test on both names (it may hold a ``\\/`` capture).
    """
    named = _header_name(toks[1:]) if toks and toks[0].kind == "bol" else None
    if named is not None and named[2]:
        return [toks]
    depth = 0
    for i, t in enumerate(toks):
        if depth == 0 and (t == Tok("lit", ":") or t.kind in ("any", "*", "+", "?")):
            break  # past the header name
        repeated = i + 1 < len(toks) and toks[i + 1].kind in "*+?"
        if depth == 0 and t.kind == "class" and not repeated and not t.text.startswith("[^") \
                and "-" not in t.text[1:-1] and "\\" not in t.text:
            # Sieve compares header names without regard to case: [Ff] is one name
            alts = [[Tok("lit", ch)] for ch in dict.fromkeys(t.text[1:-1].lower())]
            return _expand(toks[:i], alts, toks[i + 1:])
        if t.kind == "(":
            if depth == 0:
                j = _group_end(toks, i)
                quantified = j + 1 < len(toks) and toks[j + 1].kind in "*+?"
                alts = split_branches(toks[i + 1:j])
                if not quantified \
                        and not any(x.kind == "split" for x in toks[i:j]):
                    return _expand(toks[:i], alts, toks[j + 1:])
            depth += 1
        elif t.kind == ")":
            depth -= 1
    return [toks]


def _expand(head: list[Tok], alts: list[list[Tok]], tail: list[Tok]) -> list[list[Tok]]:
    out: list[list[Tok]] = []
    for alt in alts:
        for d in _distribute(head + alt + tail):
            if d not in out:
                out.append(d)
            if len(out) > _MAX_BRANCHES:
                raise Untranslatable(f"the header-name alternatives expand to more than "
                                     f"{_MAX_BRANCHES} header tests")
    return out


def _group_end(toks: list[Tok], start: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``start``."""
    depth = 0
    for j in range(start, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j].kind, 0)
        if depth == 0:
            return j
    raise Untranslatable("unbalanced parentheses")


def variable_test(value: str, rx: str, *, case_sensitive: bool) -> Translated:
    """``VAR ?? rx`` where VAR holds a Sieve variable (``${MATCH}``): a ``string`` test."""
    comparator = ' :comparator "i;octet"' if case_sensitive else ""
    try:
        toks = tokenize(rx)
        anchored = bool(toks) and toks[0].kind == "bol"
        toks = toks[1:] if anchored else toks
        if any(t.kind == "split" for t in toks):
            raise Untranslatable("\\/ in a test of a variable")
        ere, _ = to_ere(toks)
    except Untranslatable as exc:
        return Translated(None, reason=f"{rx!r} on a value known only at delivery: {exc}")
    return Translated(f"string{comparator} :regex {quote(value)} "
                      f"{quote(('^' if anchored else '') + ere)}", {"variables", "regex"})


#: Told of every body test (checked in the sandbox's Cyrus 3.6).
BODY_DECODED = ("Cyrus undoes the quoted-printable or base64 of a single-part message "
                "before it searches the body (a multipart body is searched as sent, as "
                "procmail did): such mail is now matched on the text its reader sees")


def _body_branch(toks: list[Tok], comparator: str) -> Translated:
    """B: literal text -> ``body :raw :contains``; other patterns -> ``:regex`` with a caveat."""
    if any(ord(ch) > 127 for t in toks for ch in t.text):
        raise Untranslatable(
            "8-bit characters in a body pattern: procmail compared the bytes of the rc file's "
            "charset with the mail's, the Sieve script is UTF-8")
    text = "".join(t.text for t in toks if t.kind == "lit")
    if re.search(r"=[0-9a-fA-F]{2}", text) or any(
            a == Tok("lit", "=") and b.kind == "eol" for a, b in itertools.pairwise(toks)):
        raise Untranslatable(
            "the pattern looks at quoted-printable encoding ('=XX', a soft line break), "
            "which Cyrus undoes before it searches a single-part body")
    core = list(toks)
    if len(core) >= 2 and core[0].kind == "any" and core[1].kind == "*":
        core = core[2:]
    while len(core) >= 2 and core[-2].kind == "any" and core[-1].kind == "*":
        core = core[:-2]
    if core and all(t.kind == "lit" for t in core):
        lit = "".join(t.text for t in core)
        return Translated(f"body{comparator} :raw :contains {quote(lit)}", {"body"},
                          caveats=(BODY_DECODED,))
    _check_balanced(toks)
    ere = []
    for t in toks:
        if t.kind in ("bol", "eol"):
            ere.append("^" if t.kind == "bol" else "$")
        elif t.kind == "bos":
            raise Untranslatable("'^^' anchors at the start or end of the body")
        else:
            ere.append(to_ere([t], allow_eol_end=False, check=False)[0])
    if any(t.kind == "split" for t in toks):
        raise Untranslatable("\\/ in a body pattern")
    return Translated(
        f"body{comparator} :raw :regex {quote(''.join(ere))}", {"body", "regex"},
        reason="", caveats=("BODY-REGEX", BODY_DECODED))


def _matches_empty(rx: str, case_sensitive: bool) -> bool:
    """A pattern that matches the empty string matches every message."""
    try:
        return python_regex(rx, case_sensitive).search("") is not None
    except (re.error, Untranslatable):
        return False


def python_regex(rx: str, case_sensitive: bool) -> re.Pattern[str]:
    """A Python regex with procmail's meaning, for values known while translating.

    procmail's matcher does not backtrack; Python's does, and a repeated group
    that itself repeats or holds alternatives (``(a*)*b``, ``(a|aa)*b``) can take
    exponential time on a value of a few dozen characters, so such a pattern is
    not evaluated here (how long a value other patterns may search is
    :func:`static_search`'s to limit).
    """
    toks = tokenize(rx)
    if _backtracks(toks):
        raise Untranslatable("a repeated group holding a repeat or alternatives is not "
                             "evaluated while translating (it can take exponential time)")
    return _python(toks, case_sensitive)


#: The longest value searched with one or two unbounded repeats in the pattern:
#: Python may try every split of the value between them (``.*a.*b`` is cubic); with
#: more, only the empty value is searched.
_LONGEST_SEARCHED = {0: None, 1: 4096, 2: 256}


def static_search(rx: str, value: str, case_sensitive: bool) -> bool:
    """Whether procmail's ``rx`` matches a value known while translating."""
    repeats = sum(t.kind in "*+" for t in tokenize(rx))
    longest = _LONGEST_SEARCHED.get(repeats, 0)
    if longest is not None and len(value) > longest:
        raise Untranslatable(f"a pattern with {repeats} unbounded repeats is not evaluated on "
                             f"a value of {len(value)} characters while translating (it can "
                             "take hours)")
    return python_regex(rx, case_sensitive).search(value) is not None


def _backtracks(toks: list[Tok]) -> bool:
    """Whether Python's backtracking could take exponential time: a ``*``/``+``/``?``
    after a group whose inside has a repeat or a ``|``."""
    opened: list[int] = []
    for i, t in enumerate(toks):
        if t.kind == "(":
            opened.append(i)
        elif t.kind == ")" and opened:
            start = opened.pop()
            repeated = i + 1 < len(toks) and toks[i + 1].kind in "*+?"
            if repeated and any(x.kind in "*+?|" for x in toks[start + 1 : i]):
                return True
    return False


def _python(toks: list[Tok], case_sensitive: bool) -> re.Pattern[str]:
    out = []
    for t in toks:
        k = t.kind
        if k == "lit":
            out.append(re.escape(t.text))
        elif k == "any":
            out.append("[^\n]")
        elif k == "class":
            cls = _class_ere(t.text)
            out.append(cls[:2] + "\n" + cls[2:] if cls.startswith("[^") else cls)
        elif k == "bol":
            out.append("(?:^|(?<=\n))")
        elif k == "eol":
            out.append("(?:$|\n)")
        elif k == "bos":
            out.append("(?:\\A|\\Z)")
        elif k == "wbs":
            out.append("(?:^|[^a-zA-Z0-9_\n]|\n)")
        elif k == "wbe":
            out.append("(?:$|[^a-zA-Z0-9_])")
        elif k == "split":
            continue
        else:
            out.append(k)
    return re.compile("".join(out), 0 if case_sensitive else re.IGNORECASE)
