"""An append-only file of lines written through a shared memory map. Standard library only.

The pytest plugin records every test run as a line. A ``write()`` per line costs a system
call, and in the xdist controller each one also hands the GIL to its receiving threads:
about 90 us a line, more than a trivial test. A line stored into a ``MAP_SHARED`` mapping
is a copy into the kernel's page cache: no system call, and just as safe against a crash
of the writer, since the pages belong to the file, not to the process. A ``kill -9`` loses
no line that was stored (neither way survives the machine losing power: neither syncs).

The file grows a chunk at a time, so a file whose writer was killed ends in NUL bytes past
its last line. Readers stop at the first NUL (:func:`complete_end`): a line counts once it
has its newline and no NUL, and the writer stores no NUL in a line (JSON escapes it).
:func:`seal` cuts the tail of a killed writer before anyone appends after it.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

__all__ = ["Journal", "complete_end", "logical_size", "seal"]

CHUNK = 1 << 20  # bytes mapped at a time; a multiple of mmap.ALLOCATIONGRANULARITY


def complete_end(data: bytes) -> int:
    """How many leading bytes of ``data`` are whole lines: up to the last newline before
    the first NUL (the unwritten tail of a journal, or a line being stored)."""
    nul = data.find(b"\0")
    return data.rfind(b"\n", 0, len(data) if nul < 0 else nul) + 1


def logical_size(path: Path) -> int:
    """The length of ``path`` without a NUL tail a killed writer left (a torn last line
    without its newline is kept: it is data, only not a whole line)."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - CHUNK)
            fh.seek(start)
            block = fh.read(end - start)
            stripped = block.rstrip(b"\0")
            if stripped:
                return start + len(stripped)
            end = start
        return 0


def seal(path: Path) -> int:
    """Cut the NUL tail a killed writer left, and end a torn last line with a newline so
    that whatever is appended next starts a line of its own; returns the new size."""
    if not path.exists():
        return 0
    size = logical_size(path)
    with path.open("rb+") as fh:
        fh.truncate(size)
        if size:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
                size += 1
    return size


class Journal:
    """Lines appended to ``path`` (created if missing, appended to if not) through a map."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.touch()
        self._end = seal(path)
        self._fd = os.open(path, os.O_RDWR)
        self._map: mmap.mmap | None = None
        self._base = 0  # file offset of the mapped chunk
        self._map_chunk(self._end - self._end % CHUNK)

    def _map_chunk(self, base: int) -> None:
        if self._map is not None:
            self._map.close()
        os.ftruncate(self._fd, max(base + CHUNK, self._end))
        self._base = base
        self._map = mmap.mmap(self._fd, CHUNK, mmap.MAP_SHARED, offset=base)

    def append(self, line: bytes) -> None:
        """Store ``line`` (its newline included); it is in the file when this returns."""
        assert self._map is not None, "journal closed"
        data = memoryview(line)
        while data:
            at = self._end - self._base
            room = CHUNK - at
            if room == 0:
                self._map_chunk(self._base + CHUNK)
                continue
            part = data[:room]
            self._map[at : at + len(part)] = part
            self._end += len(part)
            data = data[len(part) :]

    def close(self) -> None:
        """Unmap and cut the file to what was written."""
        if self._map is None:
            return
        self._map.close()
        self._map = None
        os.ftruncate(self._fd, self._end)
        os.close(self._fd)
