"""Where a procmail folder name points, and what procmail would do with it.

procmail resolves a folder against ``$MAILDIR``; ``dir/`` is a maildir,
``dir/.`` an MH folder, anything else an mbox file whose parent directory
must already exist.  procmail creates a maildir or MH directory itself but
never the directory above any folder: then the delivery fails and
processing falls through.  The rc files name old absolute paths
(``/home/alice``); the copied tree is somewhere else on disk now, so every
path is looked up through :class:`Site`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from converters.folders import SPOOL_DIRS, FolderMapping, spool_side_name


@dataclass(frozen=True)
class Site:
    """The user's old paths and where they are on disk now."""

    user: str
    home: Path
    old_home: str
    mapping: FolderMapping
    maildir: Path | None = None
    #: The user's mail addresses on the old site (for Sieve vacation's :addresses).
    addresses: tuple[str, ...] = ()

    def on_disk(self, old_path: str) -> Path | None:
        """The copied-tree location of an old absolute path under the old home."""
        old_path = posixpath.normpath(old_path)
        root = posixpath.normpath(self.old_home)
        if old_path == root:
            return self.home
        if old_path.startswith(root + "/"):
            return self.home / old_path[len(root) + 1 :]
        return None

    def holds(self, disk: Path) -> bool:
        """Whether ``disk``, its links followed, is inside the copied home.

        A link such as ``.procmailrc -> /etc/os-release`` named a file of the
        old host; followed here it would read (and quote in findings) a file of
        the machine running the migration.
        """
        try:
            home = self.home.resolve()
            real = disk.resolve()
        except (OSError, RuntimeError):  # a link loop leads nowhere, least of all home
            return False
        return real == home or home in real.parents

    def spool_paths(self) -> set[str]:
        """The paths that mean "the user's inbox" on the old host."""
        return {f"{d}/{self.user}" for d in SPOOL_DIRS}


@dataclass(frozen=True)
class Target:
    """A resolved folder action: kind is keep, discard, folder or fail/outside."""

    kind: str
    name: str = ""
    reason: str = ""
    dynamic: bool = False
    note: str = ""


def resolve(site: Site, raw: str, maildir: str, inbox_paths: set[str]) -> Target:
    """Resolve one expanded folder name as procmail would, in the current MAILDIR."""
    if raw == "/dev/null":
        return Target("discard")
    path = raw if raw.startswith("/") else posixpath.join(maildir, raw)
    norm = posixpath.normpath(path)
    if norm in inbox_paths or norm in site.spool_paths():
        return Target("keep")
    side = spool_side_name(site.user, norm)
    if side is not None:
        folder = site.mapping.folder(side)
        return Target("folder", folder, note=f"{norm} sits beside the spool; it is the IMAP "
                      f"folder {folder}, where the copy puts that old folder too")
    disk = site.on_disk(norm)
    if disk is None:
        return Target("outside", reason=f"{norm} is outside the home directory, so no IMAP "
                                        "folder corresponds to it")
    if "${" not in norm:
        # procmail creates a maildir's or MH folder's own directory, never its parent.
        parent = disk.parent
        if not parent.is_dir():
            return Target("fail", reason=f"the directory {posixpath.dirname(norm)} does not "
                                         "exist, so procmail could not deliver here and went "
                                         "on with the next recipe")
    base = _base(site, disk, maildir)
    rel = disk.relative_to(base).as_posix() if base else norm
    return Target("folder", site.mapping.folder(rel), dynamic="${" in rel)


def _base(site: Site, disk: Path, maildir: str) -> Path | None:
    """The directory folder names are relative to: the given maildir, MAILDIR, or home."""
    if site.maildir is not None:
        candidates = [site.maildir, site.home]
    else:
        candidates = [site.on_disk(maildir), site.home]
    for c in candidates:
        if c is not None and (disk == c or c in disk.parents):
            return c
    return None
