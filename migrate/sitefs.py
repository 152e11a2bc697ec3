"""Old absolute paths (``/var/mail/alice``) and where they are on this disk.

The old server's tree is usually mounted or copied somewhere else; every
path the tracker stores and every finding names is the old absolute path, so
an admin recognises it, and this module is the one place that maps it to disk.

Old hosts wrote file names in Latin-1 as often as in UTF-8.  A name that is
not UTF-8 cannot be stored as text (the tracker is UTF-8), so its
undecodable bytes are written ``\\xNN`` (and a backslash ``\\\\``), which
reads well in a report and maps back to the same bytes on disk.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_ESCAPE = re.compile(r"\\\\|\\x([0-9a-f]{2})")
_SURROGATE = re.compile("[\udc80-\udcff]")


def path_text(name: str) -> str:
    """A file name from the disk (undecodable bytes as surrogates) as storable text."""
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xdc00:02x}",
                          name.replace("\\", "\\\\"))


def path_name(text: str) -> str:
    """The file name ``path_text`` stands for, as Python names it on this disk."""
    raw = _ESCAPE.sub(lambda m: "\\" if m.group(1) is None
                      else chr(0xdc00 + int(m.group(1), 16)), text)
    return os.fsdecode(raw.encode("utf-8", "surrogateescape"))


def on_disk(site_root: Path, old_path: str) -> Path:
    """Where the old absolute path ``old_path`` is under ``site_root``."""
    return site_root / path_name(old_path.lstrip("/"))


def old_path(site_root: Path, disk_path: Path) -> str:
    """The old absolute path of a file found under ``site_root``.

    Only the directory is resolved: a symbolic link is named by where it is,
    not by where it points (its target is a path on the old server).
    """
    here = disk_path.parent.resolve() / disk_path.name
    return "/" + path_text(here.relative_to(site_root.resolve()).as_posix())
