"""Old absolute paths (``/var/mail/alice``) and where they are on this disk.

The old server's tree is usually mounted or copied somewhere else; every
path the tracker stores and every finding names is the old absolute path, so
an admin recognises it, and this module is the one place that maps it to disk.
"""

from __future__ import annotations

from pathlib import Path


def on_disk(site_root: Path, old_path: str) -> Path:
    """Where the old absolute path ``old_path`` is under ``site_root``."""
    return site_root / old_path.lstrip("/")


def old_path(site_root: Path, disk_path: Path) -> str:
    """The old absolute path of a file found under ``site_root``."""
    return "/" + disk_path.resolve().relative_to(site_root.resolve()).as_posix()
