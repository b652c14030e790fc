"""Writing outputs safely and knowing them again: atomic writes (a killed writer leaves no half file),
content checksums, and whether a user edited a file a step wrote. Prints nothing; raises InputError."""

import hashlib
import os
import re
import shutil
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

try:
    import fcntl
except ImportError:  # Windows: no flock; an earlier writer's leftovers stay until `clean`
    fcntl = None

from ner_update.common import InputError

TEMP_SUFFIX = ".tmp"  # an atomic write's temporary file or folder beside its output: .NAME.XXXXXXXX.tmp


def _lock(path: Path) -> Optional[int]:
    """A descriptor holding an exclusive lock on `path`; None if a live process holds one, `path` is gone
    or there is no flock (Windows). The kernel drops a lock when its holder dies, by kill -9 too."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        os.close(fd)
        return None


def _remove_stale_temps(path: Path, folders: bool) -> None:
    """Remove what a killed writer of `path` left beside it: only names of its temporary pattern for
    `path` (.NAME. + mkstemp's 8 characters + .tmp), only files (`folders`: folders), never links, and
    only those no live writer holds locked."""
    name = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
    for leftover in path.parent.iterdir():
        if name.fullmatch(leftover.name) and not leftover.is_symlink() and leftover.is_dir() == folders:
            fd = _lock(leftover)
            if fd is not None:
                with suppress(OSError):  # best effort: what cannot go stays for `clean`
                    shutil.rmtree(leftover) if folders else leftover.unlink()
                os.close(fd)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only on success. The temporary
    file is locked while this process writes it; a killed earlier writer's leftovers are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path, folders=False)
    lock, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    if fcntl is not None:  # locked on the descriptor mkstemp opened: no moment a remover could take it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        os.close(lock)
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary folder next to `path`; it replaces `path` only on success (locked and
    cleaned up as atomic_path's file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path, folders=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
    lock = _lock(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates 0700; outputs get the usual permissions
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if lock is not None:
            os.close(lock)
        if tmp.exists():
            shutil.rmtree(tmp)


def write_atomic(path: Path, content: Union[str, bytes]) -> None:
    """Write text or bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf8")


def content_md5(path: Path) -> str:
    """md5 of a file, or of a folder's files (relative paths and contents, sorted; hidden ones and
    __pycache__ left out, as the folder policy leaves them out)."""
    digest = hashlib.md5()
    files = [path]
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(path).parts)
        )
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode("utf8") if path.is_dir() else b"")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def refuse_symlinks(paths: Iterable[Path]) -> None:
    """InputError if any of these outputs is a symbolic link: writing would follow it out of the project."""
    for path in paths:
        if path.is_symlink():
            raise InputError(
                f"{path} is a symbolic link (to {os.readlink(path)}): refusing to write through it; remove the link"
            )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: Path) -> Path:
    """Where the checksum of a file people may edit (annotate's review files) is kept: .NAME.sha256 beside it."""
    return path.with_name(f".{path.name}.sha256")


def record_written(path: Path) -> None:
    """Store the checksum of what a command just wrote to `path`, to tell later whether someone edited it."""
    write_atomic(checksum_path(path), sha256(path) + "\n")


def edited_since_written(path: Path) -> bool:
    """True if `path` exists and is not what record_written last saw there (edited, or written by someone else)."""
    if not path.exists():
        return False
    recorded = checksum_path(path)
    return not recorded.is_file() or recorded.read_text(encoding="utf8").strip() != sha256(path)
