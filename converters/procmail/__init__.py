"""procmail (+ ~/.forward) -> one Sieve script per user, with findings.

Public entry points: :func:`convert_user` (what the migration calls per
user) and :func:`convert_procmailrc` (one rc file on its own).  Both are
pure: they read files under the copied home directory and return text.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from converters.finding import Finding, InputError
from converters.folders import DEFAULT_MAPPING, FolderMapping

from .actions import MAILBOX, vacation_message, vacation_statement
from .forward import ForwardFile, parse_forward
from .parser import parse_file
from .sieve import quote
from .syntax import RcFile
from .targets import Site
from .translate import Translation, Translator, finish
from .validate import sieve_error
from .variables import defaults

__all__ = ["SieveConversion", "convert_user", "convert_procmailrc"]

#: Cyrus' default ``sieve_maxscriptsize`` (32 KB, lib/imapoptions).
SIEVE_MAX_SCRIPT_SIZE = 32 * 1024


@dataclass(frozen=True)
class SieveConversion:
    """A user's Sieve script and everything that was not carried over exactly."""

    sieve: str
    findings: tuple[Finding, ...]
    recipes_total: int
    recipes_translated: int
    folders: tuple[str, ...]
    #: (file, line) of each recipe not carried over.
    untranslated: tuple[tuple[str, int], ...] = ()


def convert_user(*, user: str, home: Path, procmailrc: Path | None = None,
                 forward: Path | None = None, maildir: Path | None = None,
                 local_procmail: bool = False, mapping: FolderMapping = DEFAULT_MAPPING,
                 old_home: str | None = None, addresses: tuple[str, ...] = (),
                 own_addresses: tuple[str, ...] | None = None) -> SieveConversion:
    """Translate a user's ~/.forward and ~/.procmailrc into one Sieve script.

    ``home`` is the home directory as it is on disk now; ``old_home`` (default
    ``/home/USER``) is the path the rc files use.  ``procmailrc`` and
    ``forward`` default to the files in ``home``, each used if it exists.
    ``local_procmail`` means the old MTA ran procmail for every local delivery
    (sendmail FEATURE(local_procmail)); otherwise only a ``|procmail`` line in
    ~/.forward runs the rc file.  ``maildir`` is the on-disk directory the copy
    engine maps folders from (default: procmail's $MAILDIR, else home).
    ``addresses`` are the user's mail addresses (Sieve vacation's :addresses);
    ``own_addresses`` (default: the same) those that reach this user alone: a
    .forward entry naming one is the user's own mailbox, as sendmail sees it.
    """
    home = Path(home)
    old = old_home or f"/home/{user}"
    site = Site(user, home, old, mapping, Path(maildir) if maildir else None,
                tuple(addresses))
    out = Translation()
    tr = Translator(site, defaults(user, old), out)
    rc_path = Path(procmailrc) if procmailrc else home / ".procmailrc"
    fwd_path = Path(forward) if forward else home / ".forward"
    rc_label = _label(rc_path, home, old)
    out.script.note(f"Sieve filters for {user}, translated from {old}/.forward and "
                    f"{old}/.procmailrc")
    fwd: ForwardFile | None = None
    lost = rc_outside = False
    run_rc = local_procmail
    _inside(site, fwd_path, home, old)
    if fwd_path.is_file():
        fwd = parse_forward(fwd_path.read_bytes(), _label(fwd_path, home, old), user,
                            site.addresses if own_addresses is None else own_addresses)
        run_rc, lost = _forward_statements(tr, fwd, local_procmail)
        for e in fwd.entries:
            if e.kind == "procmail" and e.rcfile:
                rc_label = e.rcfile
                on_disk = site.on_disk(posixpath.join(old, e.rcfile))
                if on_disk is None:
                    out.findings.append(Finding(
                        "warning", e.pos.file, e.pos.line, e.value, f"procmail ran the rc file "
                        f"{e.rcfile}, which is outside the home directory, so it is not "
                        "translated", "copy that file into the home or translate it by hand",
                        "procmail-include", user))
                    run_rc, rc_outside = False, True
                rc_path = on_disk or rc_path
    _inside(site, rc_path, home, old)
    arguments = [a for e in (fwd.entries if fwd is not None else ()) for a in e.assignments
                 if a.name not in ("INCLUDERC", "SWITCHRC")]  # procmail ignores those there
    if run_rc and (rc_path.is_file() or arguments):
        for a in arguments:  # procmail VAR=value in .forward: set before the rc file runs
            tr.assignment(a, RcFile(a.pos.file, (), frozenset()), 0)
        if rc_path.is_file():
            tr.run_rc(parse_file(rc_path, out.findings, rc_label))
        finish(tr, rc_label)
    elif rc_path.is_file() and not rc_outside:
        out.findings.append(Finding(
            "warning", rc_label, None, "", "the old MTA never ran this procmailrc (no "
            "FEATURE(local_procmail) and no |procmail in ~/.forward), so it is not "
            "translated", "decide whether the user wants these rules now",
            "procmail-unused", user))
    if fwd is not None and fwd.entries and not fwd.keeps:
        if lost:
            # an entry that was not carried over may have been the mail's only way on:
            # keep the mail rather than throw away what nobody else receives
            out.findings.append(Finding(
                "warning", fwd.entries[0].pos.file, None, "", ".forward names no local "
                "delivery, but not every entry was carried over, so mail is kept in INBOX "
                "instead of being thrown away", "add a discard once the entries above are "
                "handled", "forward-kept", user))
        else:
            out.script.add(f"discard;  # no local delivery in {fwd.entries[0].pos.file}")
    return _result(out, rc_label)


def convert_procmailrc(path: Path, *, user: str | None = None, home: Path | None = None,
                       maildir: Path | None = None, mapping: FolderMapping = DEFAULT_MAPPING,
                       old_home: str | None = None, local_procmail: bool = True,
                       forward: Path | None = None,
                       addresses: tuple[str, ...] = ()) -> SieveConversion:
    """Translate one rc file as procmail would run it (no .forward is read).

    ``home`` defaults to the file's directory and ``user`` to that directory's
    name; ``addresses`` are the user's mail addresses (named in the suggested
    vacation of a reported autoreply); ``forward`` and ``local_procmail`` are
    accepted for symmetry and ignored.
    """
    path = Path(path)
    home = Path(home) if home else path.parent
    user = user or home.name or "user"
    old = old_home or f"/home/{user}"
    site = Site(user, home, old, mapping, Path(maildir) if maildir else None,
                tuple(addresses))
    out = Translation()
    tr = Translator(site, defaults(user, old), out)
    label = _label(path, home, old)
    out.script.note(f"Sieve filters translated from {label}")
    tr.run_rc(parse_file(path, out.findings, label))
    finish(tr, label)
    return _result(out, label)


def _inside(site: Site, path: Path, home: Path, old_home: str) -> None:
    """Refuse a filter file that links out of the copied home.

    On the old host the link named that host's file; followed here it would
    read, and quote in findings, a file of the machine running the migration.
    """
    if path.is_symlink() and not site.holds(path):
        raise InputError(_label(path, home, old_home), None, "is a link out of the copied "
                         "home: copy the file it named on the old host")


def _label(path: Path, home: Path, old_home: str) -> str:
    """Name a file by its old path so findings point at what the admin knows."""
    try:
        return f"{old_home}/{path.relative_to(home).as_posix()}"
    except ValueError:
        return str(path)


def _forward_statements(tr: Translator, fwd: ForwardFile,
                        local_procmail: bool) -> tuple[bool, bool]:
    """Emit redirects and vacation for .forward.

    Returns whether the procmailrc runs too, and whether an entry was not
    carried over (then no closing ``discard`` may throw the mail away).
    """
    s = tr.script
    run_rc = lost = False
    for e in fwd.entries:
        src = f"# from {e.pos.file}:{e.pos.line}"
        if e.kind == "address" and not MAILBOX.fullmatch(e.value):
            lost = True
            tr.finding("warning", e.pos.file, e.pos.line, e.value, f"{e.value!r} is not "
                       "user@domain: sendmail delivered it on the old host, and Cyrus refuses "
                       "the whole script for a redirect without a domain",
                       f"write the full address ({e.value}@your-domain) by hand",
                       "forward-address")
        elif e.kind == "address":
            s.requires.add("copy")
            s.add(f"redirect :copy {quote(e.value)};  {src}")
        elif e.kind == "self":
            run_rc = run_rc or local_procmail
            s.note(f"{e.pos.file}:{e.pos.line}: {e.value}: the user's own mailbox, also "
                   "deliver to the inbox")
        elif e.kind == "procmail":
            run_rc = True
            s.note(f"{e.pos.file}:{e.pos.line}: procmail runs the user's rc file")
        elif e.kind == "vacation":
            body, subject, found = vacation_message(tr.site)
            s.requires.add("vacation")
            s.add(f"{vacation_statement(body, subject, tr.site.addresses)}  {src}")
            tr.finding("info", e.pos.file, e.pos.line, e.value, "vacation(1) becomes a Sieve "
                       "vacation reply (one per sender per 7 days, as vacation(1) did)",
                       code="forward-vacation")
            if not found:
                tr.finding("warning", e.pos.file, e.pos.line, e.value, "~/.vacation.msg is "
                           "missing; a generic text is used", "write the vacation text",
                           "forward-vacation-text")
        else:
            lost = True
            tr.finding("warning", e.pos.file, e.pos.line, e.value, f"a .forward {e.kind} "
                       "entry has no Sieve equivalent", "handle it by hand", "forward-" + e.kind)
    kinds = {e.kind for e in fwd.entries}
    if "self" in kinds and "procmail" in kinds and not local_procmail:
        # \user delivered a spool copy besides procmail's own deliveries: an explicit
        # keep, which neither a later fileinto nor discard takes back
        s.add("keep;  # \\user in .forward: the spool copy, besides procmail's deliveries")
    return run_rc, lost


def _result(out: Translation, label: str) -> SieveConversion:
    text = out.script.text()
    error = sieve_error(text)
    findings = list(out.findings)
    if error:
        findings.append(Finding("error", label, None, "", f"the generated Sieve does not parse: "
                                f"{error}", "report this as a translator bug",
                                "sieve-invalid"))
    if len(text.encode()) > SIEVE_MAX_SCRIPT_SIZE:
        findings.append(Finding("warning", label, None, "", f"the script is "
                                f"{len(text.encode())} bytes, over Cyrus' default "
                                f"sieve_maxscriptsize of {SIEVE_MAX_SCRIPT_SIZE} bytes",
                                "raise sieve_maxscriptsize or shorten the rules",
                                "sieve-too-large"))
    return SieveConversion(text, tuple(findings), out.total, out.translated, tuple(out.folders),
                           tuple(out.untranslated))
