"""One recipe's ``*`` lines -> one Sieve test (or the reason there is none).

Handles every condition form procmail has: ``!``, ``$`` (expand, then read
again), ``?`` programs, ``<``/``>`` sizes, ``VAR ??``, ``\\`` quoting,
regexes and ``w^x`` weights.  Conditions whose outcome is known while
translating (``VAR ??`` on a folded variable) become True/False.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from .regex import Translated, Untranslatable, pattern_test, static_search, variable_test
from .sieve import all_of
from .variables import Dynamic, expand, expand_condition, unquote, unset_names, unset_reason

#: A caveat starting with this is a warning: the condition never meant what its text
#: suggests (its owner probably does not know), though it is translated as it worked.
NOT_AS_WRITTEN = "procmail did not read this condition as it looks: "
_SIZE = re.compile(r"^([<>])\s*([+-]?\d*)(.*)$", re.S)
_WEIGHT = re.compile(r"^(-?\d*\.?\d+)\s*\^\s*(-?\d*\.?\d+)\s*(.*)$", re.S)
_VARTEST = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\?\?\s*(.*)$", re.S)


@dataclass
class CondResult:
    """The outcome for one condition line."""

    test: str | None = None
    static: bool | None = None
    reason: str = ""
    requires: set[str] = field(default_factory=set)
    caveats: list[str] = field(default_factory=list)
    capture: int | None = None
    weight: tuple[float, float] | None = None
    #: The test that decides whether procmail set MATCH: the conditions up to and
    #: including the capture (procmail sets it there, even if a later one fails).
    capture_test: str | None = None


def _negate(res: CondResult) -> CondResult:
    if res.static is not None:
        res.static = not res.static
    elif res.test is not None:
        res.test = f"not {res.test}"
        res.capture = None
    return res


def condition(text: str, flags: str, env: dict[str, object]) -> CondResult:
    """Translate one condition (the text after ``*``) under the recipe's flags."""
    weight = None
    m = _WEIGHT.match(text)
    if m:
        weight = (float(m.group(1)), float(m.group(2)))
        text = m.group(3)
    try:
        res = _plain(text.strip(), flags, env)
    except RecursionError:  # 1000 nested parentheses: reported, not translated
        res = CondResult(reason="the pattern nests too deeply to translate")
    res.weight = weight
    if weight is not None and res.static is False and text.strip().startswith("?"):
        # procmailsc(5): a program condition adds w when it succeeds and x when it
        # fails, so a failing one still counts when x > 0 (a negated one adds
        # nothing when it fails: checked against procmail 3.23)
        res.static = weight[1] > 0
    return res


def _plain(text: str, flags: str, env: dict[str, object]) -> CondResult:
    if text.startswith("!"):
        return _negate(_plain(text[1:].lstrip(), flags, env))
    if text.startswith("$"):
        unset = unset_names(text[1:], env)
        try:
            res = _plain(expand_condition(text[1:].lstrip(), env).strip(), flags, env)
            res.caveats += [unset_reason(name) for name in unset]
            return res
        except Dynamic as exc:
            return CondResult(reason=f"the condition uses {exc} whose value only exists at "
                                     "delivery time")
    if text.startswith("?"):
        return _program(text[1:].strip(), env)
    if text.startswith(("<", ">")):
        return _size(text, "the message", always_some=True)
    if text.startswith("\\"):
        text = text[1:]
    else:
        m = _VARTEST.match(text)
        if m:
            return _variable_test(m.group(1), m.group(2), flags, env)
    header = "H" in flags or "B" not in flags
    body = "B" in flags
    tr = pattern_test(text, header=header, body=body, case_sensitive="D" in flags)
    return _from_translated(tr)


def _size_limit(text: str) -> tuple[str, int, str]:
    """``<``/``>``, the number as strtol reads it (none is 0) and the text skipped."""
    m = _SIZE.match(text)
    assert m is not None
    digits = m.group(2)
    return m.group(1), int(digits) if digits.lstrip("+-") else 0, m.group(3).strip()


def _size(text: str, what: str, *, always_some: bool) -> CondResult:
    """``< N`` / ``> N``: procmail reads a number the way strtol does and skips the rest.

    So ``* <html>`` is "smaller than 0 bytes" (never) and ``* >html`` "larger
    than 0 bytes" (always, when ``what`` is never empty): a size test, not the
    text it looks like (checked against procmail 3.23).
    """
    op, limit, rest = _size_limit(text)
    if limit <= 0 and (op == "<" or limit < 0 or always_some):
        res = CondResult(static=op == ">")
        if rest:
            res.caveats.append(f"{NOT_AS_WRITTEN}'{text}' is a size test ({what} "
                               f"{'under' if op == '<' else 'over'} {limit} bytes, so "
                               f"{'never' if op == '<' else 'always'} true), not the text "
                               f"{rest!r}")
        return res
    if what != "the message":
        return CondResult(reason=f"Sieve has no test of the size of {what}")
    sieve = ":under" if op == "<" else ":over"
    return CondResult(reason=(
        f"procmail measured the message as it received it (LF line ends); Sieve's size "
        f"counts CRLF line ends and the headers Cyrus adds (Return-Path, Received), so the "
        f"same message has another size and no limit gives procmail's answer for every "
        f"message; the nearest Sieve test is 'size {sieve} {limit}'"))


def _program(cmd: str, env: dict[str, object]) -> CondResult:
    """``? test WORD``: sh's test with one argument is true exactly when it is not empty.

    Other programs have no Sieve equivalent (file tests on INCLUDERC guards
    are decided by the translator, which knows the copied home).
    """
    try:
        words = [unquote(w, env) for w in shlex.split(cmd, posix=False)]
    except (Dynamic, ValueError):
        words = []
    if len(words) == 2 and words[0] == "test" and not set(cmd) & set("|;&<>()`$*?[~"):
        return CondResult(static=bool(words[1]))
    return CondResult(reason="a program condition (its exit code) has no Sieve equivalent")


def _from_translated(tr: Translated) -> CondResult:
    caveats = list(tr.caveats)
    return CondResult(test=tr.test, reason=tr.reason, requires=set(tr.requires),
                      caveats=caveats, capture=tr.capture)


def _variable_test(name: str, rx: str, flags: str, env: dict[str, object]) -> CondResult:
    """``VAR ?? regex``: H/B/HB pick a part of the mail; other variables are folded."""
    part = {"H": "the header", "B": "the body"}.get(name, "the message")
    if name in ("H", "B", "HB", "BH"):
        if rx.startswith(("<", ">")):  # the part's length; only a header is never empty
            return _size(rx, part, always_some=name != "B")
        tr = pattern_test(rx, header="H" in name, body="B" in name, case_sensitive="D" in flags)
        return _from_translated(tr)
    try:
        value = expand("$" + name, env)
        if rx.startswith(("<", ">")):  # the value's length in bytes, known here
            if "${MATCH}" in value:
                return CondResult(reason=f"the length of ${name} is only known at delivery "
                                         "time, and Sieve has no test of a length")
            op, limit, _ = _size_limit(rx)
            size = len(value.encode("utf-8", "surrogateescape"))
            return CondResult(static=size < limit if op == "<" else size > limit)
    except Dynamic:
        return CondResult(reason=f"${name} is only known at delivery time (set by procmail, "
                                 "a command or a match), so this test cannot be decided in "
                                 "Sieve")
    if "${MATCH}" in value:  # holds what a \/ capture set: tested at delivery
        return _from_translated(variable_test(value, rx, case_sensitive="D" in flags))
    try:
        hit = static_search(rx, value, "D" in flags)
    except re.error as exc:
        return CondResult(reason=f"the pattern does not compile: {exc}")
    except Untranslatable as exc:
        return CondResult(reason=f"${name} ?? {rx}: {exc}")
    return CondResult(static=hit)


def combine(results: list[CondResult]) -> CondResult:
    """AND the conditions; ``w^x`` weighted ones combine as scoring allows.

    A score is > 0 exactly when at least one positively weighted condition
    matched, if every weight is positive and every exponent >= 0 (each match
    then adds a positive amount).  Other scoring has no Sieve form.
    """
    out = CondResult(static=True)
    tests: list[str] = []
    capture_tests: list[str] = []
    scored: list[CondResult] = []
    for r in results:
        out.caveats += r.caveats
        if r.weight is not None:
            scored.append(r)
            continue
        if r.reason:
            return CondResult(reason=r.reason, caveats=out.caveats)
        out.requires |= r.requires
        if r.static is False:  # procmail stops here; a capture before it still counts
            return CondResult(static=False, caveats=out.caveats, requires=out.requires,
                              capture=out.capture, capture_test=out.capture_test)
        if r.static is True:
            continue
        if r.capture is not None:
            capture_tests = [str(r.test)]
            out.capture = r.capture
            upto = [*tests, str(r.test)]
            out.capture_test = all_of(upto)
        else:
            tests.append(str(r.test))
    if scored:
        if out.capture is not None:
            return CondResult(reason="a \\/ capture beside scored conditions: procmail sets "
                                     "MATCH while it adds up the score", caveats=out.caveats)
        if any(r.weight[0] <= 0 or r.weight[1] < 0 for r in scored if r.weight):
            return CondResult(reason="scoring with negative weights or exponents has no Sieve "
                                     "equivalent", caveats=out.caveats)
        bad = [r.reason for r in scored if r.reason]
        if bad:
            return CondResult(reason=bad[0], caveats=out.caveats)
        if any(r.capture is not None for r in scored):
            return CondResult(reason="\\/ inside a scored condition", caveats=out.caveats)
        if not any(r.static is True for r in scored):
            live = [str(r.test) for r in scored if r.static is None]
            if not live:
                return CondResult(static=False, caveats=out.caveats)
            for r in scored:
                out.requires |= r.requires
            tests.append(live[0] if len(live) == 1 else "anyof (" + ", ".join(live) + ")")
    tests += capture_tests
    if tests:
        out.static = None
        out.test = all_of(tests)
    return out
