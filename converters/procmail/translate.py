"""Walk parsed rc files in procmail's order and write the equivalent Sieve.

procmail's control flow maps onto Sieve like this: a delivering recipe ends
processing (``stop``) unless it has ``c`` (``:copy``, no stop); falling off
the end is Sieve's implicit keep; ``A``/``a``/``E``/``e`` read the outcome of
earlier recipes, which is kept in imap4flags variables (``hasflag``), since
sievelib has no ``string`` test.  INCLUDERC files are inlined where they are
read; SWITCHRC inlines and stops.  Every rule that is not carried over
exactly gets a Finding and a ``#`` comment at its place in the script.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from converters.finding import Finding, InputError

from .actions import Note, Plan, plan_action
from .conditions import NOT_AS_WRITTEN, CondResult, combine, condition
from .parser import parse_file
from .sieve import Script, all_of, comment
from .syntax import Assignment, Block, RcFile, Recipe
from .targets import Site
from .variables import DYNAMIC, Dynamic, expand, unquote

#: Assignments that only steer procmail itself; reported, nothing to translate.
_LOGGING = {"LOGFILE", "LOG", "VERBOSE", "LOGABSTRACT", "COMSAT"}
_LOCKING = {"LOCKFILE", "LOCKTIMEOUT", "LOCKSLEEP", "LOCKEXT"}
#: (TRAP runs a program with the message when procmail ends.)
_RISKY = {"TRAP", "EXITCODE", "DELIVERED", "SHIFT", "LINEBUF", "TIMEOUT", "SUSPEND", "NORESRETRY"}
_MAX_INCLUDE_DEPTH = 10
#: Files inlined in all: twenty files that each include the next twenty times
#: would otherwise inline millions of copies.
_MAX_INCLUDES = 200
#: A longer value is no mail filter's (procmail's own line buffer holds 2 KB by
#: default); ``A=$A$A`` repeated would otherwise fill memory.
_MAX_VALUE = 65536


@dataclass
class Translation:
    """Everything the walk produced."""

    script: Script = field(default_factory=Script)
    findings: list[Finding] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    total: int = 0
    translated: int = 0
    #: (file, line) of every recipe that was not carried over.
    untranslated: list[tuple[str, int]] = field(default_factory=list)


class _Abandon(Exception):
    """procmail leaves the included rc file being read (a SWITCHRC in it)."""


class Translator:
    """Translate rc files for one user; variables persist across included files."""

    def __init__(self, site: Site, env: dict[str, object], out: Translation):
        self.site = site
        self.env = env
        self.out = out
        self.script = out.script
        self.stack: list[str] = []
        #: the nesting depth each file on the stack was read at (INCLUDERC in a block)
        self.depths: list[int] = []
        self.cloning = 0
        self.included = 0

    # -- findings -----------------------------------------------------------

    def finding(self, severity: str, file: str, line: int | None, text: str, reason: str,
                suggestion: str = "", code: str = "") -> None:
        """Record a finding; warnings also leave a comment in the script."""
        self.out.findings.append(Finding(severity, file, line, text.strip(), reason,
                                         suggestion, code, self.site.user))  # type: ignore[arg-type]
        if severity != "info":
            self.script.note(f"NOT EXACT ({file}:{line}): {reason}")

    # -- files --------------------------------------------------------------

    def run_file(self, path_old: str, label: str | None = None) -> None:
        """Translate one rc file named by its old path (resolved into the copied tree)."""
        disk = self.site.on_disk(path_old)
        name = label or path_old
        if disk is None or not disk.is_file():
            raise InputError(name, None, "rc file not found")
        rc = parse_file(disk, self.out.findings, name)
        self.run_rc(rc)

    def run_rc(self, rc: RcFile, depth: int = 0) -> None:
        """Translate an already parsed rc file, read at nesting ``depth``.

        A file included inside a block shares that block's level, and with it
        the A/a/E/e state of that level.  A SWITCHRC in an included file ends
        that file only (:class:`_Abandon`), and the includer goes on.
        """
        self.stack.append(rc.path)
        self.depths.append(depth)
        try:
            self.items(rc.items, rc, depth)
        except _Abandon:
            pass
        finally:
            self.stack.pop()
            self.depths.pop()

    # -- items --------------------------------------------------------------

    def items(self, items: tuple, rc: RcFile, depth: int) -> None:
        """Translate a list of items at one nesting level."""
        stateful = any(isinstance(i, Recipe) and set(i.flags) & set("AaEe") for i in items)
        prev: Recipe | None = None
        included = False  # an INCLUDERC/SWITCHRC since the previous recipe
        for item in items:
            if isinstance(item, Assignment):
                self.assignment(item, rc, depth)
                included = included or item.name in ("INCLUDERC", "SWITCHRC")
            else:
                self.recipe(item, rc, depth, stateful,
                            self._chain_blocker(item, prev, depth, included))
                prev, included = item, False

    def _chain_blocker(self, r: Recipe, prev: Recipe | None, depth: int,
                       included: bool) -> str:
        """A/a/E/e where procmail's state comes from somewhere the translation does not
        track (checked against procmail 3.22): reported, not guessed."""
        chained = set(r.flags) & set("AaEe")
        if not chained:
            return ""
        if prev is None and (depth > 0 or len(self.stack) > 1):
            return ("the first A/a/E/e recipe of a block or included file reads the result "
                    "of the recipe around it, which the translation does not carry in")
        if included:
            return "an included rc file shares procmail's A/a/E/e state with this recipe"
        if prev is not None and isinstance(prev.action, Block) and chained & set("ae"):
            return ("'a'/'e' after a block depend on the last delivery inside it, which the "
                    "translation does not carry out of the block")
        if prev is not None and "a" in chained and "A" in prev.flags:
            return ("'a' after an 'A' recipe whose conditions may fail reads the success of "
                    "the recipe before that one")
        return ""

    def assignment(self, a: Assignment, rc: RcFile, depth: int) -> None:
        """Fold a variable into the environment; react to the special ones."""
        where = (rc.path, a.pos.line, a.text)
        if a.kind == "unset":
            self.env.pop(a.name, None)
            if a.name == "SWITCHRC":
                self._stop_reading(rc, a, "SWITCHRC unset", depth)
            elif a.name == "HOST":
                self._host(a, rc, "")
            return
        if a.kind == "pipe":
            self.env[a.name] = DYNAMIC
            self.finding("info", *where, f"${a.name} is set from a program's output at "
                         "delivery time; rules that use it are reported where they use it",
                         code="procmail-capture")
            return
        try:
            value = unquote(a.value, self.env)
            if len(value) > _MAX_VALUE:
                raise Dynamic(f"a value of over {_MAX_VALUE} characters")
        except Dynamic as exc:
            self.env[a.name] = DYNAMIC
            if a.name in ("INCLUDERC", "SWITCHRC", "MAILDIR", "DEFAULT"):
                self.finding("warning", *where, f"{a.name} depends on {exc}, known only at "
                             "delivery time", "resolve it by hand", "procmail-dynamic")
            else:
                self.finding("info", *where, f"${a.name} is computed at delivery time "
                             f"({exc}); rules that use it are reported where they use it",
                             code="procmail-capture")
            return
        previous = self.env.get(a.name)
        self.env[a.name] = value
        name = a.name
        if name == "MAILDIR":
            self._chdir(a, rc, value, previous)
        elif name in ("INCLUDERC", "SWITCHRC"):
            self.include(a, rc, value, name == "SWITCHRC", depth)
        elif name == "HOST":
            self._host(a, rc, value)
        elif name in _LOGGING:
            self.finding("info", *where, f"{name} (procmail logging) has no Sieve "
                         "counterpart; Cyrus logs deliveries itself", code="procmail-logging")
        elif name in _LOCKING:
            self.finding("info", *where, f"{name} (procmail locking) is not needed: Cyrus "
                         "locks its mailboxes", code="procmail-lock")
        elif name in _RISKY:
            self.finding("warning", *where, f"{name} changes how procmail delivers or exits; "
                         "Sieve has no equivalent", "check what the rule was for",
                         "procmail-special")

    def _chdir(self, a: Assignment, rc: RcFile, value: str, previous: object) -> None:
        """MAILDIR= is procmail's chdir: a relative value is taken from the current
        directory (``MAILDIR=Mail`` from $HOME), and a directory that is not there
        leaves procmail where it was, which is where relative folders then go."""
        if not value.startswith("/"):
            if previous is DYNAMIC or previous is None:
                self.env["MAILDIR"] = DYNAMIC
                return
            value = posixpath.normpath(posixpath.join(str(previous), value))
            self.env["MAILDIR"] = value
        disk = self.site.on_disk(value)
        if disk is not None and not disk.is_dir():
            self.finding("warning", rc.path, a.pos.line, a.text, f"MAILDIR {value} does not "
                         "exist in the old home, so procmail stayed in the previous directory; "
                         "relative folder names are taken from there",
                         "check where relative folder names pointed", "procmail-maildir")
            self.env["MAILDIR"] = previous

    def _host(self, a: Assignment, rc: RcFile, value: str) -> None:
        """HOST= (or HOST unset) not naming the old host: procmail stops, mail lost."""
        self.finding("warning", rc.path, a.pos.line, a.text, "HOST= not naming the old host "
                     "makes procmail stop at once without delivering to $DEFAULT: the message "
                     "was lost (checked with procmail 3.22); translated as discard and stop",
                     "if the old host was really named this, delete the discard",
                     "procmail-host")
        self.script.add(f"discard;  {comment(f'HOST={value} from {rc.path}:{a.pos.line}')}")
        self.script.add("stop;")

    def _stop_reading(self, rc: RcFile, a: Assignment, why: str, depth: int) -> None:
        """procmail leaves this rc file: the end of processing in the first file
        (what is not delivered goes to $DEFAULT), the end of an included file
        otherwise (the file that included it goes on)."""
        if len(self.stack) > 1:
            self._leave_included(rc, a, depth)
            return
        self.script.note(f"{rc.path}:{a.pos.line}: procmail stops reading rc files here")
        self.end_of_processing(why)

    def _leave_included(self, rc: RcFile, a: Assignment, depth: int) -> None:
        """SWITCHRC in an included file ends that file; inside a block only for some mail."""
        if depth > self.depths[-1]:
            self.finding("warning", rc.path, a.pos.line, a.text, "SWITCHRC inside a block of an "
                         "included file ends that file for the mail that reaches it, and the "
                         "translation goes on with the rest of the file for all mail",
                         "move the rules after it into the switched file by hand",
                         "procmail-include")
            return
        self.script.note(f"{rc.path}:{a.pos.line}: procmail leaves {rc.path} here and goes on "
                         "in the file that included it")
        raise _Abandon

    def end_of_processing(self, why: str) -> None:
        """procmail ends: mail no rule delivered goes to $DEFAULT, then nothing more runs."""
        for statement in self.default_delivery():
            self.script.add(statement)
        self.script.add(f"stop;  {comment(why)}")

    def default_delivery(self) -> list[str]:
        """What delivery to $DEFAULT is in Sieve: the implicit keep, or discard for /dev/null."""
        try:
            default = expand("$DEFAULT", self.env)
        except Dynamic:
            return []
        return ["discard;  # $DEFAULT is /dev/null"] if default == "/dev/null" else []

    def include(self, a: Assignment, rc: RcFile, value: str, switch: bool, depth: int) -> None:
        """Inline an INCLUDERC/SWITCHRC file, resolved like procmail (relative to MAILDIR)."""
        where = (rc.path, a.pos.line, a.text)
        if not value:
            if switch:
                self._stop_reading(rc, a, "SWITCHRC=", depth)
            return
        path = value if value.startswith("/") else posixpath.join(
            str(self.env.get("MAILDIR", "")), value)
        path = posixpath.normpath(path)
        disk = self.site.on_disk(path)
        if disk is None or not disk.is_file() or not self.site.holds(disk):
            self.finding("warning", *where, f"the included rc file {path} is not in the "
                         "copied home directory, so its rules are not translated",
                         "copy the file with the home directory or translate it by hand",
                         "procmail-include")
            return
        if path in self.stack or len(self.stack) > _MAX_INCLUDE_DEPTH:
            self.finding("warning", *where, f"{path} includes itself; procmail would loop "
                         "until its include limit", code="procmail-include")
            return
        self.included += 1
        if self.included > _MAX_INCLUDES:
            self.finding("warning", *where, f"more than {_MAX_INCLUDES} rc files are "
                         "included in all; the rest is not translated",
                         "translate these rules by hand", "procmail-include")
            return
        self.script.note(f"---- {'SWITCHRC' if switch else 'INCLUDERC'} {path} "
                         f"(from {rc.path}:{a.pos.line})")
        try:
            self.run_rc(parse_file(disk, self.out.findings, path), depth)
        except InputError as exc:
            self.finding("warning", *where, str(exc), code="procmail-include")
        self.script.note(f"---- end of {path}")
        if switch:
            self._stop_reading(rc, a, f"SWITCHRC never returns ({rc.path}:{a.pos.line})", depth)

    # -- recipes ------------------------------------------------------------

    def recipe(self, r: Recipe, rc: RcFile, depth: int, stateful: bool,
               chain_reason: str = "") -> None:
        """Translate one recipe (and, for a block, everything inside it)."""
        self.out.total += 1
        s = self.script
        src = f"{rc.path}:{r.pos.line}"
        s.note(f"{src}: {r.text.strip()}")
        reason = self._recipe_blocker(r, rc) or chain_reason
        if r.lock is not None:
            self.finding("info", rc.path, r.pos.line, r.text, "local lockfile dropped: Cyrus "
                         "locks its mailboxes", code="procmail-lock")
        flags = r.flags if ("H" in r.flags or "B" in r.flags) else r.flags + "H"
        if self.cloning and "c" not in flags:
            flags += "c"
        conds = combine([self._include_guard(r, c.text) or condition(c.text, flags, self.env)
                         for c in r.conditions])
        for cav in dict.fromkeys(conds.caveats):
            if cav == "BODY-REGEX":
                self.finding("warning", rc.path, r.pos.line, self._recipe_text(r),
                             "a body pattern other than plain text became a Sieve :regex; "
                             "line anchors and '.' across lines may behave differently in "
                             "Cyrus", "check the rule on a few real messages (or reduce the "
                             "pattern to plain text, which 'body :contains' tests exactly)",
                             "procmail-pattern")
            elif cav.startswith(NOT_AS_WRITTEN):
                self.finding("warning", rc.path, r.pos.line, self._recipe_text(r), cav,
                             "check what the rule was meant to do", "procmail-not-as-written")
            else:
                self.finding("info", rc.path, r.pos.line, r.text, cav, code="procmail-pattern")
        reason = reason or conds.reason
        if conds.capture is not None and not reason:
            self.env["MATCH"] = "${MATCH}"
        plan = Plan(translated=not (isinstance(r.action, Block) and "c" in r.flags)
                    or self._clone_delivers_once(r.action))
        if not reason and not isinstance(r.action, Block):
            plan = plan_action(r.action.text, flags, self.env, self.site)
        if reason:
            self.finding("warning", rc.path, r.pos.line, self._recipe_text(r, True), reason,
                         "translate this rule by hand", "procmail-untranslated")
            self.out.untranslated.append((rc.path, r.pos.line))
            self._disabled(r, depth, stateful)
            return
        gate = self._gate(flags, depth) if stateful else []
        if conds.capture is not None:
            # procmail sets MATCH as soon as the \/ condition matched, even when a
            # later condition fails and the recipe does not run
            s.requires |= conds.requires | {"variables"}
            decide = gate + [str(conds.capture_test)]
            s.open("if " + all_of(decide))
            s.add(f'set "MATCH" "${{{conds.capture}}}";  {comment(f"from {src}")}')
            s.close()
        if conds.static is False and not gate:
            s.note("never matches: its conditions are false for the folded variables")
            if stateful:  # later A/a/E/e recipes see it as not matched
                self._chain_state_unmatched(r, depth)
            self.out.translated += 1
            return
        tests = gate + ([str(conds.test)] if conds.test else [])
        if conds.static is False:
            tests = ["false"]
        for note in plan.notes:
            self.finding(note.severity, rc.path, r.pos.line, self._recipe_text(r),
                         note.reason, note.suggestion, note.code)
        if plan.translated:
            self.out.translated += 1
        else:
            self.out.untranslated.append((rc.path, r.pos.line))
        s.requires |= conds.requires | plan.requires
        for f in plan.folders:
            if f not in self.out.folders and f != "INBOX":
                self.out.folders.append(f)
        head = None
        if tests:
            head = "if " + all_of(tests)
        if stateful:
            s.requires |= {"variables", "imap4flags"}
            ivar = f"pm_i{depth}"
            s.add(f'set "{ivar}" "0";')
            if plan.success:
                s.add(f'set "pm_ok{depth}" "0";')
            if head:
                s.open(head)
            s.add(f'set "{ivar}" "1";')
            if head:
                s.close()
            head = f'if hasflag :is "{ivar}" "1"'
        opened = head is not None
        if opened:
            s.open(head)
        if isinstance(r.action, Block):
            before = dict(self.env)
            self._block(r, rc, depth, flags)
            if tests:  # the block runs for some mail only
                self._forget_assignments(before, r, rc, counted=plan.translated)
        else:
            self._emit_plan(plan, flags, src, f"pm_ok{depth}" if stateful else None)
        if opened:
            s.close()
        if stateful:
            self._update_state(flags, depth, plan.ok,
                               f"pm_ok{depth}" if plan.success else None)

    def _forget_assignments(self, before: dict[str, object], r: Recipe, rc: RcFile,
                            counted: bool) -> None:
        """Variables a conditional block set are unknown after it.

        procmail changed them only for mail that entered the block; folding the
        block's value in for every message (``{ MAILDIR=lists }``, ``{ DEFAULT=/dev/null
        }``) would file all later mail as only that mail was filed.  Later uses are
        then reported as values known only at delivery.
        """
        changed = sorted(k for k in set(before) | set(self.env)
                         if k != "MATCH" and before.get(k) != self.env.get(k))
        for k in changed:
            self.env[k] = DYNAMIC
        ends = [k for k in changed if k in ("DEFAULT", "ORGMAIL")]
        if ends:
            self.finding("warning", rc.path, r.pos.line, self._recipe_text(r),
                         f"this block sets ${ends[0]} for the mail that enters it only: "
                         "where procmail delivered that mail at the end of the rc file "
                         "depends on it, which Sieve cannot follow",
                         "translate the block by hand", "procmail-untranslated")
            if counted:
                self.out.translated -= 1
            self.out.untranslated.append((rc.path, r.pos.line))

    def _include_guard(self, r: Recipe, text: str) -> CondResult | None:
        """``? test -f F`` guarding ``{ INCLUDERC=F }``: decided by the copied home.

        The include is inlined from the copied home, so whether procmail read
        it is the same question as whether the file is there: both answers
        come from one snapshot.
        """
        m = re.fullmatch(r"\?\s*test\s+-[ef]\s+([^\s$`'\"\\;|&<>()]+)", text)
        if not m or not isinstance(r.action, Block) or not r.action.items or not all(
                isinstance(i, Assignment) and i.name == "INCLUDERC" and i.value == m.group(1)
                for i in r.action.items):
            return None
        path = posixpath.normpath(posixpath.join(str(self.env.get("MAILDIR", "")), m.group(1)))
        disk = self.site.on_disk(path)
        return CondResult(static=disk is not None and disk.is_file())

    @staticmethod
    def _clone_delivers_once(block: Block) -> bool:
        """Whether ``c`` on this block is exact in one Sieve run.

        procmail's clone runs the block, ends at its first delivery and, if it
        made none, goes on with the rest of the file, while the original skips
        the block (checked with procmail 3.23).  Only a block that is a single
        unconditional delivery does the same as its ``:copy`` translation.
        """
        only = block.items[0] if len(block.items) == 1 else None
        return (isinstance(only, Recipe) and not only.conditions
                and not isinstance(only.action, Block)
                and not set(only.flags) & set("cAaEeHBhbfw")
                and not only.action.text.lstrip().startswith("|"))

    def _block(self, r: Recipe, rc: RcFile, depth: int, flags: str) -> None:
        assert isinstance(r.action, Block)
        if "c" in flags:
            self.finding("warning", rc.path, r.pos.line, r.text, "c on a block makes procmail "
                         "clone itself: the copy runs the block and then the rest of the file "
                         "too; Sieve runs once, so deliveries inside are made with :copy",
                         "check that each message lands where expected", "procmail-clone")
            self.cloning += 1
        try:
            self.items(r.action.items, rc, depth + 1)
        finally:
            if "c" in flags:
                self.cloning -= 1

    def _emit_plan(self, plan: Plan, flags: str, src: str, ok_var: str | None) -> None:
        """The action's statements; a delivery-time success test guards them (and stop)."""
        s = self.script
        if not plan.translated:
            s.note(f"not translated: {src}")
            return
        if not plan.statements and plan.delivers and not plan.ok:
            s.note("procmail's delivery here failed, so it went on with the next recipe")
            return
        if plan.success:
            s.open(f"if {plan.success}")
            if ok_var:
                s.add(f'set "{ok_var}" "1";')
            if not plan.statements:
                s.note("the program succeeded; procmail went on (c flag)")
        for st in plan.statements:
            s.add(f"{st}  {comment(f'from {src}')}")
        if plan.delivers and "c" not in flags and plan.statements:
            s.add(f"stop;  {comment(f'procmail stops after delivering ({src})')}")
        if plan.success:
            s.close()

    def _gate(self, flags: str, depth: int) -> list[str]:
        lc, pc, ls = f'"pm_lc{depth}"', f'"pm_pc{depth}"', f'"pm_ls{depth}"'
        gate: list[str] = []
        if "e" in flags:
            return [f'hasflag :is {pc} "1"', f'not hasflag :is {ls} "1"'] + (
                [f'hasflag :is {lc} "1"'] if "A" in flags else [])
        if "E" in flags:
            gate.append(f'not hasflag :is {pc} "1"')
        if "a" in flags:
            gate += [f'hasflag :is {lc} "1"', f'hasflag :is {ls} "1"']
        elif "A" in flags:
            gate.append(f'hasflag :is {lc} "1"')
        return gate

    def _update_state(self, flags: str, depth: int, succeeds: bool,
                      ok_var: str | None = None) -> None:
        """Record matched/executed/succeeded for later A, a, E and e recipes."""
        s = self.script
        i = f"${{pm_i{depth}}}"
        if not set(flags) & set("Aa"):
            s.add(f'set "pm_lc{depth}" "{i}";')
        if "E" in flags and "e" not in flags:
            s.open(f'if not hasflag :is "pm_pc{depth}" "1"')
            s.add(f'set "pm_pc{depth}" "{i}";')
            s.close()
        else:
            s.add(f'set "pm_pc{depth}" "{i}";')
        ok = f"${{{ok_var}}}" if ok_var else (i if succeeds else "0")
        s.add(f'set "pm_ls{depth}" "{ok}";')

    def _disabled(self, r: Recipe, depth: int, stateful: bool) -> None:
        """Leave the recipe as a comment; later A/E recipes see it as not matched."""
        for line in self._recipe_text(r).splitlines():
            self.script.note("| " + line)
        if stateful:
            self._chain_state_unmatched(r, depth)

    def _chain_state_unmatched(self, r: Recipe, depth: int) -> None:
        """The A/a/E/e state of a recipe that did not match."""
        self.script.requires |= {"variables", "imap4flags"}
        for var in ("i", "lc", "pc", "ls"):
            if var == "lc" and set(r.flags) & set("Aa"):
                continue
            self.script.add(f'set "pm_{var}{depth}" "0";')

    def _recipe_blocker(self, r: Recipe, rc: RcFile) -> str:
        if r.bad_flags:
            if "$" in r.bad_flags:
                return "the recipe's flags come from a variable"
            return f"unknown recipe flags {r.bad_flags!r}"
        bad = [ln for ln in rc.error_lines if r.pos.line <= ln <= r.end_line]
        if bad:
            return f"line {bad[0]} inside this recipe could not be parsed"
        return ""

    @classmethod
    def _recipe_text(cls, r: Recipe, whole: bool = False) -> str:
        """The recipe as the report shows it; ``whole`` spells out a block's contents.

        An untranslated block takes everything inside it along, so its finding
        shows all of it (the nested recipes get no findings of their own).
        """
        lines = [r.text] + ["* " + c.text for c in r.conditions]
        if isinstance(r.action, Block) and whole:
            lines.append("{")
            for item in r.action.items:
                text = cls._recipe_text(item, True) if isinstance(item, Recipe) else item.text
                lines += ["  " + ln for ln in text.strip().splitlines()]
            lines.append("}")
        elif isinstance(r.action, Block):
            lines.append("{ ... }")
        else:
            lines.append(r.action.text)
        return "\n".join(lines)


def finish(tr: Translator, label: str) -> None:
    """What happens after the last recipe: procmail delivers to $DEFAULT (Sieve: implicit keep)."""
    s = tr.script
    try:
        default = expand("$DEFAULT", tr.env)
    except Dynamic:
        default = None
    spool = tr.site.spool_paths() | {str(tr.env.get("ORGMAIL", ""))}
    if default == "/dev/null":
        s.note("end of rc: $DEFAULT is /dev/null")
        for statement in tr.default_delivery():
            s.add(statement)
        tr.finding("info", label, None, "DEFAULT=/dev/null", "mail no rule delivered was "
                   "thrown away by procmail ($DEFAULT=/dev/null); the script discards it too",
                   code="procmail-default")
    elif default is not None and posixpath.normpath(default) not in spool:
        tr.finding("info", label, None,
                   f"DEFAULT={default}", f"mail no rule delivered went to {default}; it now "
                   "goes to INBOX (Sieve's implicit keep)", code="procmail-default")
    s.note("end of rules: anything not delivered above stays in INBOX (implicit keep)")


__all__ = ["Note", "Translation", "Translator", "finish"]
