"""The docker runtime's default image, built locally from the host's static busybox.

No image registry is reachable from where this runs (and nothing may be pulled: all
traffic stays on the host), so the default image is made here: a root filesystem
holding ``/bin/busybox`` from the ``busybox-static`` package plus one symlink per
applet (``sh``, ``sleep``, ``echo``, ``cat``, ``nc``, ``wget``, ...), packed with
:mod:`tarfile` and handed to the engine with the SDK's ``import_image_from_data``
(the ``docker import`` of the CLI). :func:`ensure_image` does that only when the tag
is missing, so a fresh engine works without manual steps.

From a shell (``.ci/setup-docker.sh`` does this)::

    python -m target_api.director.images            # ensure moonbase/busybox:1
    python -m target_api.director.images --rebuild  # import it again
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path

import docker
import docker.errors

from target_api.exceptions import MoonbaseError

__all__ = [
    "BUSYBOX_CANDIDATES",
    "DEFAULT_IMAGE",
    "ImageBuildError",
    "build_rootfs_tar",
    "busybox_applets",
    "ensure_image",
    "find_static_busybox",
    "is_static_elf",
]

DEFAULT_IMAGE = "moonbase/busybox:1"

# Where Debian's busybox-static puts the binary; MOONBASE_BUSYBOX overrides.
BUSYBOX_CANDIDATES: tuple[str, ...] = ("/bin/busybox", "/usr/bin/busybox")

# Applets every stack in the tests and docs relies on; used when `busybox --list`
# cannot be run (it always can for a static binary on the same architecture).
_FALLBACK_APPLETS: tuple[str, ...] = tuple(
    "sh echo cat sleep true false ls mkdir rm cp mv env printf test [ nc wget touch kill ps id"
    " head".split()
)

# Instructions applied on import (the `docker import --change` list): an imported
# tar carries no config at all, so PATH and a default command are set here.
_IMAGE_CHANGES: tuple[str, ...] = (
    "ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin",
    'CMD ["sh"]',
    "LABEL moonbase.image=busybox",
)

_PT_INTERP = 3  # ELF program header type naming the dynamic loader


class ImageBuildError(MoonbaseError, RuntimeError):
    """The default image could not be built or imported."""


def is_static_elf(header: bytes) -> bool:
    """True when ``header`` (the start of a file, program headers included) is an
    ELF executable without a ``PT_INTERP`` segment, i.e. needs no dynamic loader
    and so runs in an otherwise empty root filesystem."""
    if len(header) < 0x34 or header[:4] != b"\x7fELF":
        return False
    is_64 = header[4] == 2
    endian = "<" if header[5] == 1 else ">"
    if is_64:
        if len(header) < 0x40:
            return False
        (phoff,) = struct.unpack_from(endian + "Q", header, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", header, 0x36)
    else:
        (phoff,) = struct.unpack_from(endian + "I", header, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", header, 0x2A)
    if phnum == 0 or phentsize < 4:
        return False
    for index in range(phnum):
        offset = phoff + index * phentsize
        if offset + 4 > len(header):
            return False  # program headers beyond what we read: cannot tell
        (p_type,) = struct.unpack_from(endian + "I", header, offset)
        if p_type == _PT_INTERP:
            return False
    return True


def find_static_busybox() -> Path:
    """The host's static busybox: ``$MOONBASE_BUSYBOX``, else the first of
    :data:`BUSYBOX_CANDIDATES` or ``busybox`` on PATH that is statically linked."""
    override = os.environ.get("MOONBASE_BUSYBOX")
    if override:
        candidates: list[str] = [override]
    else:
        on_path = shutil.which("busybox")
        candidates = [*BUSYBOX_CANDIDATES, *([on_path] if on_path else [])]
    tried: list[str] = []
    for candidate in candidates:
        path = Path(candidate)
        if not path.is_file():
            tried.append(f"{candidate} (missing)")
            continue
        with path.open("rb") as handle:
            header = handle.read(64 * 1024)
        if is_static_elf(header):
            return path
        tried.append(f"{candidate} (not a static ELF executable)")
    source = "MOONBASE_BUSYBOX" if override else "the default locations"
    raise ImageBuildError(
        f"no static busybox found in {source}: tried {', '.join(tried)}; "
        "install it with `apt-get install -y busybox-static` or set MOONBASE_BUSYBOX "
        "to a statically linked busybox binary"
    )


def busybox_applets(busybox: Path) -> tuple[str, ...]:
    """The applet names ``busybox --list`` prints, or a fixed core set if it cannot run."""
    try:
        listed = subprocess.run(
            [str(busybox), "--list"], capture_output=True, check=True, timeout=10, text=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return _FALLBACK_APPLETS
    names = tuple(name for name in listed if name and "/" not in name and name != "busybox")
    return names or _FALLBACK_APPLETS


def build_rootfs_tar(busybox: Path, applets: Iterable[str]) -> bytes:
    """A root filesystem as an uncompressed tar: ``/bin/busybox``, a symlink in ``/bin``
    per applet, ``/usr/bin/env``, a world-writable ``/tmp`` and a minimal ``/etc``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (
            ("bin", 0o755),
            ("etc", 0o755),
            ("tmp", 0o1777),
            ("usr", 0o755),
            ("usr/bin", 0o755),
            ("proc", 0o755),
            ("sys", 0o755),
            ("dev", 0o755),
        ):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            tar.addfile(info)
        binary = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.mode = 0o755
        info.size = len(binary)
        tar.addfile(info, io.BytesIO(binary))
        links = {f"bin/{name}": "busybox" for name in applets}
        links["usr/bin/env"] = "/bin/busybox"  # for `#!/usr/bin/env` scripts
        for name, target in sorted(links.items()):
            link = tarfile.TarInfo(name)
            link.type = tarfile.SYMTYPE
            link.linkname = target
            link.mode = 0o777
            tar.addfile(link)
        # Jobs run as the host's uid (see runtimes/docker.py); root and nobody suffice
        # for tools that look the current user up.
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _split_tag(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:  # "host:5000/name" has a colon but no tag
        return image, "latest"
    return repository, tag


def ensure_image(
    client: docker.DockerClient, image: str = DEFAULT_IMAGE, *, rebuild: bool = False
) -> str:
    """Make sure ``image`` exists in the engine, importing the busybox rootfs under that
    tag if it does not (or if ``rebuild``). Never pulls. Returns the image id."""
    if not rebuild:
        try:
            return str(client.images.get(image).id)
        except docker.errors.ImageNotFound:
            pass
    busybox = find_static_busybox()
    rootfs = build_rootfs_tar(busybox, busybox_applets(busybox))
    repository, tag = _split_tag(image)
    try:
        client.api.import_image_from_data(
            rootfs, repository=repository, tag=tag, changes=list(_IMAGE_CHANGES)
        )
        return str(client.images.get(image).id)
    except docker.errors.DockerException as exc:
        raise ImageBuildError(f"importing {busybox} as image {image!r} failed: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """``python -m target_api.director.images``: ensure the default image exists."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"tag (default {DEFAULT_IMAGE})")
    parser.add_argument("--rebuild", action="store_true", help="import even if it exists")
    args = parser.parse_args(argv)
    try:
        client = docker.from_env(timeout=30)
    except docker.errors.DockerException as exc:
        print(f"images: no Docker engine answers ({exc})", file=sys.stderr)
        return 1
    try:
        image_id = ensure_image(client, args.image, rebuild=args.rebuild)
    except ImageBuildError as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"{args.image} {image_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
