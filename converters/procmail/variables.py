"""procmail variables as far as they are known while translating.

``$HOME``, ``$MAILDIR``, ``$DEFAULT``, ``$LOGNAME`` and plain user
assignments have values we can fold into the Sieve script.  Values that only
exist at delivery time (backquotes, ``VAR=|cmd``, ``$MATCH`` without a
capture) are "dynamic": expanding them raises :class:`Dynamic` so the caller
can report the rule instead of guessing.
"""

from __future__ import annotations

import re

#: Marks a variable whose value only exists when procmail runs.
DYNAMIC = object()

_REF = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+=?])?(?P<word>[^}]*)\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<special>[=_\-#@\\$]))"
)


class Dynamic(Exception):
    """A value that depends on delivery-time state; the message names the variable."""


def defaults(user: str, old_home: str) -> dict[str, object]:
    """procmail's start-up environment for ``user`` (config.h, procmail(1)).

    ``$HOST``, ``$PROCMAIL_VERSION`` and ``$COMSAT`` came from the old machine
    and are dynamic, like ``$$`` (the process id): a rule using them is
    reported, not folded to the empty string.
    """
    spool = f"/var/mail/{user}"
    return {
        "HOME": old_home,
        "LOGNAME": user,
        "USER": user,
        "MAILDIR": old_home,
        "ORGMAIL": spool,
        "DEFAULT": spool,
        "SENDMAIL": "/usr/sbin/sendmail",
        "SENDMAILFLAGS": "-oi",
        "LOCKEXT": ".lock",
        "MSGPREFIX": "msg.",
        "SHELL": "/bin/sh",
        "SHELLMETAS": "&|<>~;?*[",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "SHELLFLAGS": "-c",
        "LINEBUF": "2048",
        "MATCH": DYNAMIC,
        "LASTFOLDER": DYNAMIC,
        # set by procmail from the machine it ran on: not known here
        "HOST": DYNAMIC,
        "PROCMAIL_VERSION": DYNAMIC,
        "COMSAT": DYNAMIC,
    }


def _lookup(env: dict[str, object], name: str) -> str:
    value = env.get(name, "")
    if value is DYNAMIC:
        raise Dynamic(name)
    return str(value)


def expand(text: str, env: dict[str, object]) -> str:
    """Expand ``$VAR``/``${VAR...}`` as procmail does, raising Dynamic for runtime values."""

    def repl(m: re.Match[str]) -> str:
        if m.group("special"):
            if m.group("special") == "\\":
                return "$\\"
            raise Dynamic("$" + m.group("special"))
        name = m.group("braced") or m.group("plain")
        op, word = m.group("op"), m.group("word") or ""
        if m.group("braced") and not op and word:
            return m.group(0)
        value = _lookup(env, name)
        if op in (":-", "-"):
            unset = name not in env if op == "-" else not value
            return expand(word, env) if unset else value
        if op in (":+", "+"):
            isset = name in env if op == "+" else bool(value)
            return expand(word, env) if isset else ""
        return value

    out = _REF.sub(repl, text)
    return out.replace("$\\", "$")


#: Characters procmail's regexes treat specially; ``$\\VAR`` escapes them in the value.
_REGEX_SPECIAL = set(".[]()*+?|^$\\")


def expand_condition(text: str, env: dict[str, object]) -> str:
    """The text of a ``$`` condition after sh's substitution inside double quotes.

    procmailrc(5): the rest of the condition is expanded "according to sh(1)
    substitution rules inside double quotes", then read again as a condition.
    So ``\\$``, ``\\\\``, ``\\"`` and ``\\``` lose their backslash (``\\$5`` is
    the anchor ``$`` then ``5``) while ``\\.`` keeps it; a ``"`` leaves and
    re-enters the quoting (between such quotes a backslash escapes any
    character and ``'...'`` is literal); ``$\\VAR`` is VAR's value with its
    regex characters escaped (checked against procmail 3.23).
    """
    out: list[str] = []
    quoted = True  # inside the implied double quotes
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if not quoted or nxt in '$`"\\\n':
                out.append("" if nxt == "\n" else nxt)
                i += 2
            else:
                out.append(c)
                i += 1
        elif c == '"':
            quoted = not quoted
            i += 1
        elif c == "'" and not quoted:
            j = text.find("'", i + 1)
            j = n if j < 0 else j
            out.append(text[i + 1 : j])
            i = j + 1
        elif c == "`":
            raise Dynamic("`command`")
        elif c == "$" and (m := re.match(r"\$\\([A-Za-z_][A-Za-z0-9_]*)", text[i:])):
            out.append("".join("\\" + ch if ch in _REGEX_SPECIAL else ch
                               for ch in _lookup(env, m.group(1))))
            i += m.end()
        elif c == "$" and (m := _REF.match(text, i)):
            out.append(expand(m.group(0), env))
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def unset_names(text: str, env: dict[str, object]) -> list[str]:
    """Variables ``text`` refers to plainly (no ``:-`` default) that nothing has set."""
    plain = (m.group("braced") or m.group("plain") for m in _REF.finditer(text)
             if not m.group("op"))
    quoted = re.findall(r"\$\\([A-Za-z_][A-Za-z0-9_]*)", text)
    return list(dict.fromkeys(name for name in (*plain, *quoted) if name and name not in env))


def unset_reason(name: str) -> str:
    """Why an unset variable deserves a note: procmail would read it from its environment."""
    return (f"${name} is not set in the rc file, so it expands to nothing here, as in "
            "procmail unless the environment sendmail gave procmail set it")


def unquote(value: str, env: dict[str, object]) -> str:
    """The value of an assignment's right-hand side: quotes removed, variables expanded.

    Single quotes keep ``$`` literal; backquotes run a command, so they are dynamic.
    """
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == "'":
            j = value.find("'", i + 1)
            j = n if j < 0 else j
            out.append(value[i + 1 : j])
            i = j + 1
        elif c == '"':
            j = i + 1
            buf = []
            while j < n and value[j] != '"':
                if value[j] == "\\" and j + 1 < n:
                    nxt = value[j + 1]
                    buf.append("" if nxt == "\n" else (nxt if nxt in '"\\$`' else "\\" + nxt))
                    j += 2
                    continue
                buf.append(value[j])
                j += 1
            if "`" in "".join(buf):
                raise Dynamic("`command`")
            out.append(expand("".join(buf), env))
            i = j + 1
        elif c == "`":
            raise Dynamic("`command`")
        elif c == "\\":
            # an escaped character; a backslash that ends the value stays itself
            out.append(value[i + 1 : i + 2].replace("\n", "") if i + 1 < n else "\\")
            i += 2
        elif value.startswith("${", i) and value.find("}", i) > 0:
            # ${VAR:-"word"}: the quotes belong to the word, not to the value around it
            j = value.find("}", i)
            ref = value[i : j + 1]
            out.append(expand(ref.replace('"', "").replace("'", ""), env))
            i = j + 1
        else:
            j = i
            while j < n and value[j] not in "'\"`\\":
                j += 1
            out.append(expand(value[i:j], env))
            i = j
    return "".join(out)
