"""A tree written by make_spools.py, as a mailmigrate site for fresh users.

Benchmarks and live tests need the same synthetic mail under user names no
one else uses on the shared Cyrus, several times over: the files are hard
links (no copying of hundreds of MB), only the names change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def clone_site(corpus: Path, dest: Path, prefix: str, domain: str) -> dict[str, str]:
    """Link ``corpus`` into ``dest`` with each mail user renamed ``<prefix><name>``.

    Writes etc/passwd, and an etc/mail that makes ``domain`` the site's one
    local domain, so inventory puts every user in it.  Returns old -> new name.
    Not a byte of mail changes.
    """
    names: dict[str, str] = {}
    lines = []
    for line in (corpus / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if int(parts[2]) >= 1000:
            names[parts[0]] = new = f"{prefix}{parts[0]}"
            parts[0], parts[5] = new, f"/home/{new}"
        lines.append(":".join(parts))
    for old, new in names.items():
        for src, dst in ((corpus / "var/mail" / old, dest / "var/mail" / new),
                         (corpus / "home" / old, dest / "home" / new)):
            if src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(src, dst)
            elif src.is_dir():
                shutil.copytree(src, dst, copy_function=os.link)
    (dest / "etc/mail").mkdir(parents=True, exist_ok=True)
    (dest / "etc/passwd").write_text("\n".join(lines) + "\n")
    (dest / "etc/mail/local-host-names").write_text(domain + "\n")
    (dest / "etc/mail/sendmail.mc").write_text("FEATURE(`use_cw_file')dnl\n")
    dest.chmod(0o755)
    return names
