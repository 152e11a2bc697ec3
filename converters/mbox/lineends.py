"""CRLF line ends, as IMAP APPEND needs them and Cyrus checks them.

Cyrus refuses a message holding a LF without a CR before it ("bare
newlines"); a lone CR is accepted and left alone.  Two ``replace`` passes
keep the work in C and the memory at a few copies of one message.
"""

from __future__ import annotations


def crlf(data: bytes | bytearray) -> bytes | bytearray:
    """Every LF (bare or after CR) as CRLF; other bytes unchanged.

    The result has the type of ``data``: a message body stays a bytearray until
    it is joined with its header, one copy fewer of every byte of the spool.
    """
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    return data.replace(b"\n", b"\r\n")
