"""Who may read what callops keeps: its owner only, except the published file.

``CALLOPS_HOME`` holds clear personal data (the build warehouse keeps callers' numbers
beside their pseudonyms, and spills to disk beside it), the pseudonymisation key, Airflow's
metadata (connections, passwords), run logs, alerts, dbt's compiled SQL and logs, the Data
Docs of the checked data, and decoded copies of deliveries (``tmp/``). All of it is
owner-only whatever the umask of whoever started callops: every process that works under
``CALLOPS_HOME`` creates files with umask 077 (``settings.home()`` sets it), and
:func:`harden` takes group and other permissions off what an earlier release (or another
umask) left there, at every command. The one file for others to read is
``published/callops.duckdb`` (0644, in a 0755 folder); its earlier versions
(``published/versions/``) are owner-only. Each tenant's file (``published/tenants/``)
is owner-only too, unless ``CALLOPS_PUBLISHED_GROUP`` names a group: then that group
may read the tenants' files (0640 in a 0750 folder), and only those; their earlier
versions stay owner-only. The wallboard's pages (``published/.wallboard/``, which
``published/wallboard`` links to) hold tenants' figures: they take the tenants' files' modes.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from callops import settings

PRIVATE_DIRS = ("warehouse", "secrets", "airflow", "runs", "alerts", "dbt", "data_docs", "tmp")
PUBLISHED_FILE_MODE = 0o644
PUBLISHED_DIR_MODE = 0o755
OTHERS = 0o077  # group and other permission bits
WALLBOARD_DIR = ".wallboard"  # published/.wallboard/<stamp>/: the wallboards (callops.wallboard), as the tenants' files


def restrict_umask() -> None:
    """Files and folders this process creates from now on are owner-only (DuckDB, dbt and Airflow
    create theirs with the process umask)."""
    settings.restrict_umask()


def private_paths(home: Path | None = None) -> list[Path]:
    home = home or settings.home()
    return [home / name for name in PRIVATE_DIRS] + [
        home / "published" / "versions", home / "published" / "tenants" / "versions"
    ]


class GroupError(RuntimeError):
    pass


@dataclass(frozen=True)
class TenantAccess:
    """Who may read the tenants' published files: their owner, and the group ``gid`` when set."""

    gid: int | None = None
    group: str = ""

    def folder(self, path: Path) -> None:
        self._apply(path, 0o750 if self.gid is not None else 0o700)

    def file(self, path: Path) -> None:
        self._apply(path, 0o640 if self.gid is not None else 0o600)

    def _apply(self, path: Path, mode: int) -> None:
        if self.gid is not None and path.stat().st_gid != self.gid:
            try:
                os.chown(path, -1, self.gid)
            except PermissionError as error:
                raise GroupError(
                    f"{path}: cannot give it to group {self.group} ({settings.PUBLISHED_GROUP_ENV}): the user callops "
                    "runs as must be a member of that group"
                ) from error
        os.chmod(path, mode)


def tenant_access() -> TenantAccess:
    """``CALLOPS_PUBLISHED_GROUP`` resolved (a name or a number); an unknown group is a GroupError."""
    name = settings.published_group()
    if not name:
        return TenantAccess()
    try:
        return TenantAccess(grp.getgrnam(name).gr_gid, name)
    except KeyError:
        if name.isdigit():
            return TenantAccess(int(name), name)
        raise GroupError(
            f"{settings.PUBLISHED_GROUP_ENV}={name}: no such group on this machine; the tenants' published files "
            "stay owner-only until it names an existing group (or is unset)"
        ) from None


def _restrict(path: Path, mode: int) -> None:
    if mode & OTHERS:
        with contextlib.suppress(OSError):  # not ours to change (another user's file): left as it is
            os.chmod(path, stat.S_IMODE(mode) & ~OTHERS)


def restrict_tree(top: Path) -> None:
    """Take group and other permissions off ``top`` and everything in it; links are not followed."""
    try:
        _restrict(top, top.stat().st_mode)
    except OSError:
        return
    for folder, names, files in os.walk(top):
        for name in names + files:
            path = Path(folder, name)
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if not stat.S_ISLNK(mode):
                _restrict(path, mode)


def publish_mode(path: Path) -> None:
    """The published file: readable by others (BI tools run as other users), written by callops alone."""
    os.chmod(path, PUBLISHED_FILE_MODE)


def harden(home: Path | None = None) -> None:
    """Owner-only where it must be, in an existing CALLOPS_HOME (an earlier release made its files with
    the caller's umask: they are fixed at its next command). A new CALLOPS_HOME is created 0755, so
    others can reach the published file."""
    home = home or settings.home()
    if not home.exists():
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(PUBLISHED_DIR_MODE)
    for top in private_paths(home):
        if top.exists():
            restrict_tree(top)
    published = home / "published" / "callops.duckdb"
    with contextlib.suppress(OSError):
        if stat.S_ISREG(published.lstat().st_mode):
            publish_mode(published)
    _harden_tenants(home / "published" / "tenants", home / "published" / WALLBOARD_DIR)


def _harden_tenants(folder: Path, wallboards: Path) -> None:
    """The tenants' files, and the wallboards (each holds tenants' pages), as CALLOPS_PUBLISHED_GROUP says
    now (a group unset or unknown: owner-only)."""
    try:
        access = tenant_access()
    except GroupError:
        access = TenantAccess()
    if folder.is_dir():
        with contextlib.suppress(OSError, GroupError):
            access.folder(folder)
            for path in folder.glob("*.duckdb"):
                if stat.S_ISREG(path.lstat().st_mode):
                    access.file(path)
    if wallboards.is_dir():
        with contextlib.suppress(OSError, GroupError):
            apply_tree(wallboards, access)


def apply_tree(top: Path, access: TenantAccess) -> None:
    """``access`` on ``top`` and everything in it (folders and files); links are not followed."""
    access.folder(top)
    for folder, names, files in os.walk(top):
        for name in names + files:
            path = Path(folder, name)
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                access.folder(path)
            elif stat.S_ISREG(mode):
                access.file(path)
