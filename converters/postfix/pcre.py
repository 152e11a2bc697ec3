"""pcre_table(5) text: literal escaping and rule lines.

Postfix pcre tables match the whole address, case-insensitively, first match
in file order; ``$1``/``${1}`` interpolate groups and ``$$`` is a dollar.
Escaping every non-alphanumeric character keeps local parts such as
``o'hara`` or ``a.b+c`` literal (PCRE treats ``\\`` before a non-alphanumeric
character as that character).
"""

from __future__ import annotations

from dataclasses import dataclass

from converters.postfix.rejections import rejection_address


def literal(text: str) -> str:
    """``text`` as a PCRE literal that is also safe between ``/`` delimiters."""
    return "".join(c if c.isalnum() or c == "_" else "\\" + c for c in text)


def rhs_literal(text: str) -> str:
    """``text`` as a pcre result with no substitution (``$`` doubled)."""
    return text.replace("$", "$$")


@dataclass(frozen=True)
class PcreRule:
    """One pattern with its virtual result (``rhs``) or its rejection reply.

    Exactly one of ``rhs`` and ``reject`` is set; ``origin`` is the old
    ``file:line`` written as a comment above the rule.
    """

    pattern: str
    rhs: str | None
    reject: str | None
    origin: str

    def virtual_line(self) -> str:
        """The lines for virtual.pcre: where the rule came from, then the rule.

        A rejection is rewritten to its reserved address, so that no later
        row (a base address, a catch-all) takes what sendmail refused.
        """
        rhs = self.rhs if self.rhs is not None else rhs_literal(rejection_address(
            self.reject or ""))
        return f"# {self.origin}\n/{self.pattern}/\t{rhs}"

    def access_line(self) -> str:
        """The lines for recipient_access.pcre: the reply, or DUNNO so later rules stay off."""
        return f"# {self.origin}\n/{self.pattern}/\t{self.reject or 'DUNNO'}"
