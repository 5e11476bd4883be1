"""The pure parts of the docker runtime's image building: ELF inspection and the rootfs."""

from __future__ import annotations

import io
import struct
import tarfile
from pathlib import Path

import pytest

from target_api.director.images import (
    ImageBuildError,
    build_rootfs_tar,
    find_static_busybox,
    is_static_elf,
)

_PT_LOAD, _PT_INTERP = 1, 3


def elf(*segment_types: int, bits: int = 64, endian: str = "<") -> bytes:
    """A minimal ELF executable header with one program header per segment type."""
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if endian == "<" else 2, 1])
    ident = ident.ljust(16, b"\0")
    if bits == 64:
        ehsize, phentsize = 64, 56
        header = ident + struct.pack(
            endian + "HHIQQQIHHHHHH",
            2,
            62,
            1,
            0,
            ehsize,
            0,
            0,
            ehsize,
            phentsize,
            len(segment_types),
            0,
            0,
            0,
        )
        phdrs = b"".join(
            struct.pack(endian + "IIQQQQQQ", t, 5, 0, 0, 0, 0, 0, 0) for t in segment_types
        )
    else:
        ehsize, phentsize = 52, 32
        header = ident + struct.pack(
            endian + "HHIIIIIHHHHHH",
            2,
            3,
            1,
            0,
            ehsize,
            0,
            0,
            ehsize,
            phentsize,
            len(segment_types),
            0,
            0,
            0,
        )
        phdrs = b"".join(
            struct.pack(endian + "IIIIIIII", t, 0, 0, 0, 0, 0, 5, 0) for t in segment_types
        )
    assert len(header) == ehsize
    return header + phdrs


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_elf_without_interpreter_is_static(bits: int, endian: str) -> None:
    assert is_static_elf(elf(_PT_LOAD, _PT_LOAD, bits=bits, endian=endian))


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_elf_with_interpreter_is_not_static(bits: int, endian: str) -> None:
    assert not is_static_elf(elf(_PT_LOAD, _PT_INTERP, _PT_LOAD, bits=bits, endian=endian))


@pytest.mark.parametrize(
    "data",
    [b"", b"#!/bin/sh\necho not elf\n" * 4, elf(_PT_LOAD)[:40], elf()],
    ids=["empty", "script", "truncated", "no-program-headers"],
)
def test_non_executables_are_not_static(data: bytes) -> None:
    assert not is_static_elf(data)


def test_program_headers_beyond_the_read_part_are_not_taken_as_static() -> None:
    assert not is_static_elf(elf(_PT_LOAD, _PT_INTERP)[: 64 + 56 + 10])


def test_rootfs_has_busybox_applet_links_and_a_writable_tmp(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"binary")
    with tarfile.open(fileobj=io.BytesIO(build_rootfs_tar(busybox, ["sh", "nc"]))) as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert tar.extractfile("bin/busybox").read() == b"binary"  # type: ignore[union-attr]
    assert members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym()
    assert members["bin/sh"].linkname == "busybox"
    assert members["bin/nc"].linkname == "busybox"
    assert members["usr/bin/env"].linkname == "/bin/busybox"
    assert members["tmp"].isdir()
    assert members["tmp"].mode == 0o1777
    assert {"etc/passwd", "etc/group"} <= members.keys()


def test_busybox_override_must_be_static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    static = tmp_path / "static-busybox"
    static.write_bytes(elf(_PT_LOAD))
    dynamic = tmp_path / "dynamic-busybox"
    dynamic.write_bytes(elf(_PT_INTERP, _PT_LOAD))

    monkeypatch.setenv("MOONBASE_BUSYBOX", str(static))
    assert find_static_busybox() == static

    monkeypatch.setenv("MOONBASE_BUSYBOX", str(dynamic))
    with pytest.raises(ImageBuildError, match="MOONBASE_BUSYBOX.*not a static ELF.*busybox-static"):
        find_static_busybox()

    monkeypatch.setenv("MOONBASE_BUSYBOX", str(tmp_path / "absent"))
    with pytest.raises(ImageBuildError, match="absent \\(missing\\)"):
        find_static_busybox()
