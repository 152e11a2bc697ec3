"""A recipe's action line -> Sieve statements.

Folders become ``fileinto`` (through the shared FolderMapping), ``/dev/null``
``discard``, the spool ``keep``, ``!`` ``redirect``; spam-tagging pipes
are dropped (the new frontends tag mail).  ``formail -r ... | $SENDMAIL``
autoreplies and ``vacation`` are reported with the nearest Sieve vacation
(which answers less mail).  Any other program has no Sieve form and is
reported.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from email.utils import getaddresses

from .sieve import quote, string_list
from .targets import Site, resolve
from .variables import DYNAMIC, Dynamic, expand, unquote, unset_names, unset_reason

_SPAM = re.compile(r"(^|[/\s(])(spamc|spamassassin)\b")
_AUTOREPLY = re.compile(r"formail\b[^|]*\s-[A-Za-z]*r")
_SENDMAIL = re.compile(r"\$SENDMAIL|\bsendmail\b|\$\{SENDMAIL")
_VACATION = re.compile(r"(^|[/\s])vacation(\s|$)")
_DUPCHECK = re.compile(r"formail\b[^|]*\s-[A-Za-z]*D")

#: Cyrus' default minimum vacation interval (sieve_vacation_min_response).
VACATION_DAYS = 7


@dataclass
class Note:
    """A finding to raise for this action (severity, reason, suggestion, code)."""

    severity: str
    reason: str
    suggestion: str = ""
    code: str = ""


@dataclass
class Plan:
    """What an action becomes.

    ``delivers``: procmail ends the rc file here when the delivery succeeds
    (and the recipe has no ``c``).  ``ok``: the delivery is known to succeed.
    ``translated``: False when the action was not carried over.  ``success``:
    a Sieve test that decides at delivery time whether the delivery succeeds
    (the statements run only then).
    """

    statements: list[str] = field(default_factory=list)
    delivers: bool = False
    ok: bool = True
    translated: bool = True
    notes: list[Note] = field(default_factory=list)
    requires: set[str] = field(default_factory=set)
    folders: list[str] = field(default_factory=list)
    success: str | None = None


def strip_comment(text: str, *, forward: bool = False) -> str:
    """An action line without its ``#`` comment, as procmail (3.23) reads it.

    A ``#`` outside quotes, not escaped and after whitespace starts a comment.
    On a folder line a ``#`` with no whitespace before it does too, as long as
    no ``/`` came before it on the line: ``cfoo#x y`` writes the mbox ``cfoo``
    and ``b#c/`` the mbox ``b``, while ``Mail/a#b`` and ``b/ c#d/`` keep it.
    A forward line ends only at a ``#`` after whitespace: ``! a@b.c#d``
    hands sendmail the one word ``a@b.c#d``.
    """
    quote_char = ""
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quote_char != "'":
            escaped = True
        elif quote_char:
            quote_char = "" if ch == quote_char else quote_char
        elif ch in "\"'":
            quote_char = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()
                            or not forward and "/" not in text[:i]):
            return text[:i].strip()
    return text.strip()


def plan_action(text: str, flags: str, env: dict[str, object], site: Site) -> Plan:
    """Translate one action line under the recipe's flags and the current variables."""
    copy = "c" in flags
    if text.startswith("!"):
        if ("h" in flags) != ("b" in flags):
            part = "header" if "h" in flags else "body"
            return Plan(translated=False, delivers=True, notes=[Note(
                "warning", f"procmail forwarded only the {part} of the message; Sieve's "
                "redirect sends the whole message", "decide whether the whole message may "
                "be forwarded", "procmail-partial")])
        return _forward(strip_comment(text[1:], forward=True), copy, env)
    if text.startswith("|"):
        return _pipe(text[1:].strip(), flags, env, site)
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\|", text)
    if m:
        env[m.group(1)] = DYNAMIC
        return Plan(translated=True, notes=[Note(
            "info", f"${m.group(1)} captures a program's output at delivery time; rules "
            "using it are reported where they use it", code="procmail-capture")])
    return _folders(strip_comment(text), flags, env, site)


def _folders(text: str, flags: str, env: dict[str, object], site: Site) -> Plan:
    plan = Plan(delivers=True)
    copy = "c" in flags
    try:
        names = [unquote(w, env) for w in _words(text)]
        maildir = expand("$MAILDIR", env)
        inbox = {posixpath.normpath(posixpath.join(maildir, expand(f"${v}", env)))
                 for v in ("DEFAULT", "ORGMAIL")}
    except Dynamic as exc:
        return Plan(translated=False, notes=[Note(
            "warning", f"the folder name uses {exc}, known only at delivery time",
            "write a fileinto for the folders this can name", "procmail-dynamic")])
    if ("h" in flags) != ("b" in flags):
        part = "header" if "h" in flags else "body"
        plan.notes.append(Note("warning", f"procmail stored only the {part} of the message "
                               "here; Sieve stores the whole message", "accept that the whole "
                               "message is filed, or drop the rule", "procmail-partial"))
    statements: list[str] = []
    if len(names) > 1 and not _directory(site, names[0], maildir):
        # several names make hard links between directory folders; after an mbox
        # file (or /dev/null) procmail logs "Skipped" for the rest and writes one
        plan.notes.append(Note("info", f"procmail delivered only to {names[0]} (the first "
                               f"name is not a directory) and skipped {' '.join(names[1:])}",
                               code="procmail-skipped"))
        names = names[:1]
    for index, name in enumerate(names):
        t = resolve(site, name, maildir, inbox)
        if index and (t.kind == "fail" or _existing_file(site, name, maildir)):
            # procmail 3.23 links the message into the later names; one it cannot
            # link (a missing parent, a plain file) is logged "Skipped" and the
            # delivery still counts as done, as the first name decides that
            plan.notes.append(Note("info", f"procmail skipped {name} (not a directory it "
                                   "could link into) and delivered to the other names",
                                   code="procmail-skipped"))
            continue
        if t.kind in ("fail", "outside"):
            plan.ok = False
            plan.translated = t.kind == "fail"
            # a folder procmail could not write is a rule that filed nothing on the old
            # host either: faithful, but the user likely believes it works, and when one
            # file is converted without its home every folder looks like this
            plan.notes.append(Note("warning", t.reason,
                                   "create the directory if the rule should file mail; when "
                                   "converting one file, give --home the user's copied home"
                                   if t.kind == "fail" else "choose an IMAP folder by hand",
                                   "procmail-folder-" + t.kind))
            return Plan(ok=False, delivers=True, translated=plan.translated, notes=plan.notes)
        if t.kind == "discard":
            if not copy:
                statements.append("discard;")
        elif t.kind == "keep":
            statements.append("keep;")
        else:
            opts = ":copy " if copy else ""
            if t.dynamic:
                opts += ":create "
                plan.requires.add("mailbox")
                plan.notes.append(Note("warning", f"the folder name {t.name} depends on the "
                                       "message; Cyrus creates it on first use",
                                       "check the folder names this produces",
                                       "procmail-dynamic-folder"))
            else:
                plan.folders.append(t.name)
            if t.note:
                plan.notes.append(Note("info", t.note, code="procmail-spool-folder"))
            plan.requires.add("fileinto")
            if copy:
                plan.requires.add("copy")
            if "${" in t.name:
                plan.requires.add("variables")
            statements.append(f"fileinto {opts}{quote(site.mapping.fileinto_name(t.name))};")
    plan.statements = statements
    return plan


def _existing_file(site: Site, name: str, maildir: str) -> bool:
    """Whether a folder name is a plain file that exists (procmail links nothing into it)."""
    path = name if name.startswith("/") else posixpath.join(maildir, name)
    disk = site.on_disk(posixpath.normpath(path))
    return disk is not None and disk.is_file()


def _directory(site: Site, name: str, maildir: str) -> bool:
    """Whether procmail treats a folder name as a directory (maildir, MH or existing)."""
    if name.endswith(("/", "/.")):
        return True
    path = name if name.startswith("/") else posixpath.join(maildir, name)
    disk = site.on_disk(posixpath.normpath(path))
    return disk is not None and disk.is_dir()


#: One word of an action line: quoted parts, escaped characters (``my\\ folder``
#: is one folder) and plain characters up to unquoted whitespace.
_WORD = re.compile(r"""(?:"[^"]*"?|'[^']*'?|\\[\s\S]?|[^\s"'\\])+""")


def _words(text: str) -> list[str]:
    """Split a folder line on unquoted whitespace (procmail allows several folders)."""
    return _WORD.findall(text) or [text]


#: An address Cyrus accepts in ``redirect``: local part, '@', a dotted domain.
MAILBOX = re.compile(r"[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _forward(text: str, copy: bool, env: dict[str, object]) -> Plan:
    try:
        words = [unquote(w, env) for w in _words(text)]
    except Dynamic as exc:
        return Plan(translated=False, delivers=True, notes=[Note(
            "warning", f"the forward address uses {exc}, known only at delivery time",
            "write the redirect by hand", "procmail-dynamic")])
    kept: list[str] = []
    skip = False
    for w in " ".join(words).split():
        if skip:
            skip = False
        elif w.startswith("-"):
            skip = w in ("-f", "-F", "-r")
        else:
            kept.append(w)
    # "Bob <bob@x.net>", <a@x.net>, a@x.net,b@x.net: the addresses, as sendmail read them
    joined = " ".join(kept)
    addrs = ([a for _, a in getaddresses([joined]) if a] if set(joined) & set('<"(')
             else [a for a in re.split(r"[\s,]+", joined) if a])
    if not addrs:
        return Plan(translated=False, delivers=True, notes=[Note(
            "warning", "a forward without an address", code="procmail-forward")])
    bare = [a for a in addrs if not MAILBOX.fullmatch(a)]
    if bare:
        return Plan(translated=False, delivers=True, notes=[Note(
            "warning", f"the forward address {bare[0]!r} is not user@domain: sendmail "
            "delivered it on the old host, and Cyrus refuses the whole script for a redirect "
            "without a domain", f"write the full address ({bare[0]}@your-domain) by hand",
            "procmail-forward")])
    opts = ":copy " if copy else ""
    plan = Plan(delivers=True, statements=[f"redirect {opts}{quote(a)};" for a in addrs])
    if copy:
        plan.requires.add("copy")
    return plan


def _pipe(cmd: str, flags: str, env: dict[str, object], site: Site) -> Plan:
    filt = "f" in flags
    if _SPAM.search(cmd):
        if filt:
            return Plan(notes=[Note("info", "the SpamAssassin filter is dropped: the new "
                                    "frontends add the X-Spam-* headers before delivery",
                                    code="procmail-spamc")])
        return Plan(translated=False, delivers=True, notes=[Note(
            "warning", "the message was handed to SpamAssassin as a delivery (not a filter); "
            "there is no Sieve equivalent", "drop the rule or report spam another way",
            "procmail-pipe")])
    if _AUTOREPLY.search(cmd) and _SENDMAIL.search(cmd) and not filt:
        return _vacation(_reply_text(cmd, env, site), flags, "formail -r autoreply", site)
    if _VACATION.search(cmd) and not filt:
        return _vacation(vacation_message(site), flags, "vacation(1)", site)
    dup = _duplicate(cmd, flags, env)
    if dup is not None:
        return dup
    if _DUPCHECK.search(cmd):
        return Plan(translated=False, delivers=not filt, notes=[Note(
            "warning", "formail -D duplicate suppression is not carried over; duplicates "
            "will be delivered", "add a Sieve 'duplicate' test if the server offers it",
            "procmail-duplicate")])
    edit = _formail_edit(cmd, flags, env) if filt else None
    if edit is not None:
        return edit
    if filt:
        return Plan(translated=False, notes=[Note(
            "warning", "a filter program changed the message here; Sieve cannot run programs, "
            "so the message is delivered unchanged", "drop the filter or do it on the "
            "frontends", "procmail-filter")])
    return Plan(translated=False, delivers=True, notes=[Note(
        "warning", "the message was piped to a program; Sieve cannot run programs, so this "
        "rule is not carried over and such mail now goes on to the later rules",
        "replace the program by hand (server-side job, or a redirect)", "procmail-pipe")])


def _formail_words(cmd: str, env: dict[str, object]) -> list[str] | None:
    """The words of a plain ``formail ...`` command, expanded; None for anything else.

    None when the command has shell syntax outside quotes (pipes, redirections,
    ``;``, backquotes), a delivery-time variable, or is not formail itself.
    """
    quote_char = ""
    for ch in cmd:
        if quote_char:
            quote_char = "" if ch == quote_char else quote_char
        elif ch in "\"'":
            quote_char = ch
        elif ch in "|;&<>()`\\":
            return None
    try:
        words = [unquote(w, env) for w in _words(cmd)]
    except Dynamic:
        return None
    if not words or posixpath.basename(words[0]) != "formail":
        return None
    return words[1:]


_FIELD = re.compile(r"([!-9;-~]+):(?: ([!-~](?:[ -~]*[!-~])?))?")
#: Fields Cyrus' editheader refuses to touch (RFC 5293 section 7).
_PROTECTED = {"received", "auto-submitted"}


def _formail_edit(cmd: str, flags: str, env: dict[str, object]) -> Plan | None:
    """``formail -A/-a/-I "Name: value"`` on the header -> editheader, or None.

    formail appends a field at the end of the header (-A), only when no field
    of that name exists (-a), or after removing every field of that name
    (-I; a bare ``Name:`` only removes).  That is ``addheader :last``,
    ``if not exists``, ``deleteheader``; names compare case-insensitively on
    both sides.  Only with ``h`` (without ``b``): fed the whole message,
    formail also quotes ``From `` lines in the body.  Only ``Name: value``
    with one space, printable ASCII and distinct names, so the added line is
    byte for byte what formail wrote and the order of the options is moot.
    """
    if "h" not in flags or "b" in flags or "c" in flags:
        return None
    words = _formail_words(cmd, env)
    if not words:
        return None
    statements: list[str] = []
    names: set[str] = set()
    i = 0
    while i < len(words):
        opt = words[i][:2]
        if opt not in ("-A", "-a", "-I"):
            return None
        field_text = words[i][2:]
        if not field_text:
            i += 1
            if i == len(words):
                return None
            field_text = words[i]
        i += 1
        m = _FIELD.fullmatch(field_text)
        if not m or m.group(1).lower() in names | _PROTECTED or "${" in field_text:
            return None
        name, value = m.group(1), m.group(2)
        names.add(name.lower())
        add = f"addheader :last {quote(name)} {quote(value)};" if value is not None else ""
        if opt == "-I":
            statements.append(f"deleteheader {quote(name)};")
        elif not add:
            return None
        if opt == "-a":
            add = f"if not exists {quote(name)} {{ {add} }}"
        if add:
            statements.append(add)
    notes = [Note("info", unset_reason(name), code="procmail-unset")
             for name in unset_names(cmd, env)]
    return Plan(statements=statements, requires={"editheader"}, notes=[Note(
        "info", "the formail header edit becomes editheader (addheader :last / deleteheader), "
        "which later tests and the delivered message see, as they saw formail's output",
        code="procmail-editheader"), *notes])


def _duplicate(cmd: str, flags: str, env: dict[str, object]) -> Plan | None:
    """``formail -D N cache`` with ``w``/``W`` -> the Sieve ``duplicate`` test, or None.

    formail -D exits 0 when the Message-ID is already in the cache (and adds
    it otherwise; no Message-ID is never a duplicate), so with w/W the pipe
    succeeds, i.e. the message counts as delivered to formail, exactly for
    duplicates.  RFC 7352 ``duplicate`` is true for a Message-ID already seen
    and records it, and is false without one.  Without w/W procmail ignores
    the exit code, which Sieve cannot mirror here.
    """
    if not set(flags) & set("wW") or "b" in flags and "h" not in flags:
        return None
    words = _formail_words(cmd, env)
    if not words or len(words) != 3 or words[0] != "-D" or not words[1].isdigit():
        return None
    statements = [] if "c" in flags else ["discard;"]
    return Plan(statements=statements, delivers=True, success="duplicate",
                requires={"duplicate"}, notes=[Note(
                    "info", f"formail -D remembered the last {words[1]} bytes of Message-IDs "
                    f"in {words[2]}; the Sieve duplicate test remembers them for a time "
                    "instead (Cyrus: sieve_duplicate_max_expiration), otherwise the same",
                    code="procmail-duplicate")])


def _reply_text(cmd: str, env: dict[str, object], site: Site) -> tuple[str, str | None, bool]:
    """The autoreply body: ``echo "..."`` text or a ``cat file`` in the command."""
    m = re.search(r"\bcat\s+([^\s;|)]+)", cmd)
    if m:
        try:
            old = unquote(m.group(1), env)
            if not old.startswith("/"):
                old = expand("$MAILDIR", env) + "/" + old
            disk = site.on_disk(old)
            if disk is not None and disk.is_file():
                return _split_message(disk.read_text(errors="replace")) + (True,)
        except Dynamic:
            pass
    echoes = re.findall(r"\becho\s+(\"[^\"]*\"|'[^']*'|[^;|)]*)", cmd)
    if echoes:
        try:
            return ("\n".join(unquote(e.strip(), env) for e in echoes), None, True)
        except Dynamic:
            pass
    return ("I have received your message.", None, False)


def vacation_message(site: Site) -> tuple[str, str | None, bool]:
    """~/.vacation.msg as (body, subject, found)."""
    path = site.home / ".vacation.msg"
    if path.is_file():
        return _split_message(path.read_text(errors="replace")) + (True,)
    return ("I am away and will read your message when I return.", None, False)


def _split_message(text: str) -> tuple[str, str | None]:
    """A message file may start with headers; Subject: becomes the reply's subject."""
    head, sep, body = text.partition("\n\n")
    if sep and re.match(r"^[A-Za-z-]+:", head):
        m = re.search(r"^Subject:\s*(.*)$", head, re.M | re.I)
        return body, (m.group(1).strip() if m else None)
    return text, None


def vacation_statement(body: str, subject: str | None, addresses: tuple[str, ...]) -> str:
    """A Sieve vacation command with the reply text and the user's addresses."""
    subj = f":subject {quote(subject)} " if subject else ""
    addr = f":addresses {string_list(list(addresses))} " if addresses else ""
    return f"vacation :days {VACATION_DAYS} {subj}{addr}{quote(body)};"


def _vacation(message: tuple[str, str | None, bool], flags: str, what: str,
              site: Site) -> Plan:
    """An automatic reply is reported, not translated: Sieve vacation answers less.

    RFC 5230 vacation (and Cyrus) answers only mail that names one of the
    user's addresses in To/Cc/Bcc/Resent-To/Resent-Cc/Resent-Bcc, never mail
    with Auto-Submitted or Precedence bulk/junk/list or from an owner-,
    -request or MAILER-DAEMON sender, and replies to the envelope sender.
    The program answered every message the recipe's conditions let through.
    """
    body, subject, found = message
    statement = vacation_statement(body, subject, site.addresses)
    keep = "" if "c" in flags else " followed by 'discard;'"
    text = [] if found else [Note("warning", "the reply text could not be found",
                                  "write the vacation text", "procmail-vacation-text")]
    return Plan(translated=False, delivers=True, notes=text + [Note(
        "warning", f"the {what} answered every message this recipe's conditions let through; "
        "a Sieve vacation reply answers only mail that names one of the user's addresses in "
        "To/Cc/Bcc or Resent-To/Cc/Bcc, and never mail marked Auto-Submitted or Precedence "
        "bulk/junk/list or sent by owner-/-request/MAILER-DAEMON, so it cannot do the same",
        f"if that is acceptable, use: {statement}{keep}"
        + ("" if site.addresses else " (list the user's addresses in :addresses)"),
        "procmail-vacation")])

