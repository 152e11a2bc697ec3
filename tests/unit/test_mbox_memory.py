"""Memory stays bounded by the largest message, not the file: a 300 MB mbox with a 50 MB message.

The reader runs in a child process so its peak RSS (``ru_maxrss``) is its own.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

MB = 1 << 20
LINE = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012\n"
BIG_INDEX = 7
LIMIT_KB = 300 * 1024

CHILD = """
import hashlib, json, resource, sys
from converters.mbox import read_mbox
count, big = 0, None
for m in read_mbox(sys.argv[1]):
    count += 1
    if len(m.data) > 1 << 20:
        big = (m.index, len(m.data), hashlib.sha1(m.data).hexdigest(), m.sha1, m.length)
print(json.dumps({"count": count, "big": big,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _write_mbox(path: Path, total: int, big: int) -> tuple[int, int, str, int]:
    """Write the file; return (messages, big data length, big data SHA-1, big file length)."""
    small_body = LINE * 260
    n = written = 0
    big_info = (0, "", 0)
    with open(path, "wb") as f:
        while written < total:
            head = b"From u%d@example.org Mon Jan  1 00:00:00 2001\n" % n
            header = b"Subject: message %d\n\n" % n
            if n == BIG_INDEX:
                digest = hashlib.sha1(header.replace(b"\n", b"\r\n"))
                block = LINE * 1000
                crlf = block.replace(b"\n", b"\r\n")
                f.write(head + header)
                for _ in range(big // len(block)):
                    f.write(block)
                    digest.update(crlf)
                body = big // len(block) * len(block)
                size = len(header) + body
                line_ends = header.count(b"\n") + body // len(LINE)   # each gains a CR
                big_info = (size + line_ends, digest.hexdigest(), len(head) + size + 1)
                f.write(b"\n")
                written += size
            else:
                f.write(head + header + small_body + b"\n")
                written += len(small_body)
            n += 1
    return n, *big_info


def test_peak_rss_bounded_for_300mb_file_with_50mb_message(tmp_path):
    path = tmp_path / "big.mbox"
    count, big_len, big_sha1, big_file_len = _write_mbox(path, 300 * MB, 50 * MB)
    assert path.stat().st_size > 300 * MB
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    result = json.loads(out.stdout)
    assert result["count"] == count
    index, length, actual_sha1, reported_sha1, file_length = result["big"]
    assert (index, length, file_length) == (BIG_INDEX, big_len, big_file_len)
    assert actual_sha1 == reported_sha1 == big_sha1
    assert result["maxrss_kb"] < LIMIT_KB
