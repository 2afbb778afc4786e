"""Files only this user may read: written atomically, refused when others could read them, locked with flock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Final

from sekisho.client.errors import TokenStoreError

MAX_FILE: Final = 1024 * 1024


class FileLock:
    """`fcntl.flock` on a file of its own: the data file is swapped by `os.replace`, so it cannot hold the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Block until this process holds the lock."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise TokenStoreError(f"cannot open {self.path} ({error.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def read_private(path: Path) -> bytes | None:
    """The bytes of a regular file of this user's that no one else may read (no symbolic link); None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        reason = "it is a symbolic link" if error.errno == errno.ELOOP else error.strerror
        raise TokenStoreError(f"cannot read {path} ({reason}); delete it and run `sekisho login` again") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise TokenStoreError(f"{path} is not a file; move it away and run `sekisho login` again")
        if status.st_mode & 0o077:
            raise TokenStoreError(
                f"{path} is readable by other users: run `chmod 600 {path}` (or log in again, to be safe)"
            )
        if status.st_uid != os.getuid():
            raise TokenStoreError(f"{path} belongs to another user; delete it and run `sekisho login` again")
        with os.fdopen(os.dup(fd), "rb") as file:
            body = file.read(MAX_FILE + 1)
    finally:
        os.close(fd)
    if len(body) > MAX_FILE:
        raise TokenStoreError(f"{path} is larger than {MAX_FILE // 1024} KiB; delete it and run `sekisho login` again")
    return body


def write_atomically(path: Path, body: bytes) -> None:
    """Temp file in the same directory (mode 0600), fsync, `os.replace`, fsync the directory: old or new, never half."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_directory(path.parent)
    except OSError as error:
        raise TokenStoreError(f"cannot write {path} ({error.strerror}); check that directory") from None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
