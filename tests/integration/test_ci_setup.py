"""The CI set-up scripts on a machine as fresh as CI's (issue 8).

A fresh machine's own ``python3`` has the ``docker`` package but none of the project's
other dependencies. CI once passed only because a machine had starlette in its system
Python: ``.ci/setup-docker.sh`` ran ``python3 -m target_api.director.images``, which
imports the project. These tests put such a ``python3`` first on PATH, name an image
that does not exist yet, and require the script to import it all the same: through the
shell path when no project interpreter is given, through ``$MOONBASE_PYTHON`` when it is.

Skips without a Docker engine on a laptop; fails instead when CI=true.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from harness.plugin import require_component
from target_api.director.runtimes.docker import docker_available

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SETUP_DOCKER = REPO / ".ci" / "setup-docker.sh"

# What `import docker` needs and nothing of the project's (no starlette, no harness).
DOCKER_ONLY = ("docker", "requests", "urllib3", "idna", "certifi", "charset_normalizer")


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    require_component("Docker engine (.ci/setup-docker.sh)", docker_available())
    client = docker.from_env(timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose ``python3`` imports ``docker`` and none of the project's packages,
    like the machine's own interpreter on a fresh machine."""
    root = tmp_path_factory.mktemp("bare-python")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    # only the docker SDK and its dependencies, linked from this interpreter's packages
    shelf = root / "shelf"
    shelf.mkdir()
    for name in DOCKER_ONLY:
        module = __import__(name)
        assert module.__file__ is not None
        source = Path(module.__file__).parent
        (shelf / source.name).symlink_to(source, target_is_directory=True)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", where],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    Path(purelib, "docker-only.pth").write_text(f"{shelf}\n")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(venv / "bin" / "python")
    (bin_dir / "python").symlink_to(venv / "bin" / "python")
    # the premise: it has docker and lacks starlette, so importing the project fails
    probe = "import docker\ntry:\n import starlette\nexcept ImportError:\n print('bare')\n"
    seen = subprocess.run(
        [str(bin_dir / "python3"), "-I", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
    )
    assert seen.stdout.strip() == "bare", seen.stdout + seen.stderr
    return bin_dir


@pytest.fixture
def absent_image(engine: docker.DockerClient) -> Iterator[str]:
    """A tag no engine has yet; removed again afterwards."""
    image = f"moonbase/busybox:setup-check-{uuid.uuid4().hex[:10]}"
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(image)
    yield image
    try:
        engine.images.remove(image, force=True)
    except docker.errors.ImageNotFound:
        pass


def run_setup(bare_python: Path, image: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MOONBASE_PYTHON", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PATH"] = f"{bare_python}{os.pathsep}{env.get('PATH', '')}"
    env["MOONBASE_DOCKER_IMAGE"] = image
    env.update(extra)
    return subprocess.run(
        ["bash", str(SETUP_DOCKER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


def assert_image_runs(engine: docker.DockerClient, image: str) -> None:
    """The imported image is the busybox one and its shell runs a command."""
    labels = engine.images.get(image).labels or {}
    assert labels.get("moonbase.image") == "busybox"
    out = engine.containers.run(
        image, ["sh", "-c", "echo imported-ok"], network_mode="none", remove=True
    )
    assert out.decode().strip() == "imported-ok"


def test_setup_docker_imports_the_image_with_a_bare_python3_first_on_path(
    engine: docker.DockerClient, bare_python: Path, absent_image: str
) -> None:
    done = run_setup(bare_python, absent_image)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "ModuleNotFoundError" not in output
    assert f"image {absent_image} imported" in output
    assert_image_runs(engine, absent_image)


def test_setup_docker_uses_the_project_interpreter_it_is_given(
    engine: docker.DockerClient, bare_python: Path, absent_image: str
) -> None:
    done = run_setup(bare_python, absent_image, MOONBASE_PYTHON=sys.executable)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"image {absent_image} imported" in output
    assert_image_runs(engine, absent_image)


def test_setup_docker_refuses_a_project_interpreter_that_does_not_exist(
    engine: docker.DockerClient, bare_python: Path, absent_image: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-python"
    done = run_setup(bare_python, absent_image, MOONBASE_PYTHON=str(missing))
    assert done.returncode == 1
    assert f"MOONBASE_PYTHON={missing} is not an executable" in done.stderr
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(absent_image)
