"""The Dockerfile and compose.yaml agree with the project (no Docker engine needed).

This machine cannot build images, so the instructions are parsed and checked against what
they name: the files they copy, the console script and commands they run, the settings they
set, the user they run as and the volume the evidence lives on.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import cli
from monitor.config import SPECS

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
DOCKERIGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
DATA = "/data"
# Variables the image may set besides the settings of monitor.config.
OTHER_VARIABLES = {"MONITOR_WATCHLIST", "PYTHONUNBUFFERED"}
KNOWN_VARIABLES = {spec.env for spec in SPECS} | OTHER_VARIABLES
# Build tools belong in the build stage only.
BUILD_TOOLS = ("g++", "gcc", "libicu-dev", "pkg-config", "build-essential")
ROOT_USERS = {"root", "0", "0:0", "root:root"}


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case
    args: str
    stage: int  # 0 for ARGs before the first FROM, then 1, 2, ...


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions in order, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = 0
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments may sit inside a continued instruction, too
        pending += stripped.removesuffix("\\").strip() + " "
        if stripped.endswith("\\"):
            continue
        name, _, args = pending.strip().partition(" ")
        pending = ""
        stage += name.upper() == "FROM"
        instructions.append(Instruction(name.upper(), args.strip(), stage))
    return instructions


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
FINAL_STAGE = max(instruction.stage for instruction in INSTRUCTIONS)


def _all(name: str, stage: int | None = None) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.name == name and stage in (None, i.stage)]


def _one(name: str) -> Instruction:
    (found,) = _all(name)
    return found


def _exec_form(args: str) -> list[str]:
    """A JSON array such as ``["monitor", "run"]``; the shell form would lose signals."""
    command = json.loads(args)
    assert isinstance(command, list), f"not the exec form: {args}"
    return [str(word) for word in command]


def _healthcheck_command() -> list[str]:
    options, _, command = _one("HEALTHCHECK").args.partition("CMD ")
    assert all(option.startswith("--") for option in options.split())
    return _exec_form(command)


def _base_images() -> list[str]:
    defaults = dict(arg.args.split("=", 1) for arg in _all("ARG", stage=0))
    images = []
    for instruction in _all("FROM"):
        image = instruction.args.split()[0]
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], image))
    return images


def _ignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (no ``!`` rules here)."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in DOCKERIGNORE:
        assert not pattern.startswith("!"), "exceptions are not checked here"
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            names = [prefix, prefix.split("/")[-1]] if pattern.startswith("**/") else [prefix]
            if any(fnmatch.fnmatchcase(name, bare) for name in names):
                return True
    return False


def _copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context."""
    found = []
    for instruction in _all("COPY"):
        words = shlex.split(instruction.args)
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        found.append((paths[:-1], paths[-1]))
    return found


# --- the build -------------------------------------------------------------------------------


def test_every_stage_is_a_slim_python_the_project_supports() -> None:
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum is not None
    for image in _base_images():
        match = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", image)
        assert match, image
        assert (int(match[1]), int(match[2])) >= (int(minimum[1]), int(minimum[2])), image
    assert len(set(_base_images())) == 1  # pyicu is built and run against the same ICU


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    sources = [source for sources, _ in _copies() for source in sources]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source), f"{source} is excluded by .dockerignore"


def test_the_build_copies_everything_the_wheel_is_made_of() -> None:
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], *wheel["packages"]}
    needed |= set(wheel.get("force-include", {}))
    copied = {source.rstrip("/") for sources, _ in _copies() for source in sources}
    assert needed <= copied


def test_the_runtime_stage_installs_this_project_from_the_built_wheels() -> None:
    runtime = " ".join(i.args for i in _all("RUN", stage=FINAL_STAGE))
    name = PYPROJECT["project"]["name"]
    assert re.search(rf"pip install .*--no-index .*'{re.escape(name)}(\[[\w,]+\])?'", runtime)


def test_secrets_and_stores_stay_out_of_the_build_context() -> None:
    for path in (".env", "monitor.db", "monitor.db-wal", ".git", ".venv"):
        assert _ignored(path), path


def test_the_runtime_stage_has_no_compiler_or_headers() -> None:
    runtime = " ".join(i.args for i in _all("RUN", stage=FINAL_STAGE))
    build = " ".join(i.args for i in _all("RUN") if i.stage < FINAL_STAGE)
    for tool in BUILD_TOOLS:
        assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", runtime), tool
    assert "libicu-dev" in build


# --- the runtime -----------------------------------------------------------------------------


def _console_scripts() -> dict[str, str]:
    scripts: dict[str, str] = PYPROJECT["project"]["scripts"]
    return scripts


@pytest.mark.parametrize(
    "command",
    [_exec_form(_one("CMD").args), _healthcheck_command()],
    ids=["CMD", "HEALTHCHECK"],
)
def test_commands_run_the_console_script_pyproject_declares(command: list[str]) -> None:
    assert command[0] in _console_scripts()
    assert _console_scripts()[command[0]] == "monitor.cli:main"


@pytest.mark.parametrize(
    ("command", "expected"),
    [(_exec_form(_one("CMD").args), "run"), (_healthcheck_command(), "status")],
    ids=["CMD", "HEALTHCHECK"],
)
def test_commands_name_commands_of_the_cli(command: list[str], expected: str) -> None:
    assert command[1:] == [expected]
    assert expected in cli.commands


def _env() -> dict[str, str]:
    pairs = [shlex.split(i.args) for i in _all("ENV", stage=FINAL_STAGE)]
    return dict(pair.split("=", 1) for words in pairs for pair in words)


def test_environment_sets_only_known_settings_and_puts_the_evidence_on_the_volume() -> None:
    env = _env()
    assert set(env) <= KNOWN_VARIABLES
    assert env["MONITOR_DB"] == f"{DATA}/monitor.db"
    assert env["MONITOR_WATCHLIST"] == f"{DATA}/watchlist.toml"


def test_data_is_a_volume_and_the_working_directory() -> None:
    assert _exec_form(_one("VOLUME").args) == [DATA]
    assert _all("WORKDIR", stage=FINAL_STAGE)[-1].args == DATA


def test_the_daemon_runs_as_an_unprivileged_user_that_owns_the_data() -> None:
    user = _all("USER", stage=FINAL_STAGE)[-1].args
    assert user not in ROOT_USERS
    setup = " ".join(i.args for i in _all("RUN", stage=FINAL_STAGE))
    assert re.search(rf"useradd .*\b{user}\b", setup)
    assert f"chown {user}:{user} {DATA}" in setup
    last_user = max(i for i, ins in enumerate(INSTRUCTIONS) if ins.name == "USER")
    runs_as_root_after = [ins for ins in INSTRUCTIONS[last_user:] if ins.name == "RUN"]
    assert runs_as_root_after == []


# --- compose.yaml ----------------------------------------------------------------------------


def _service() -> dict[str, Any]:
    (service,) = COMPOSE["services"].values()
    assert isinstance(service, dict)
    return service


def test_compose_builds_this_dockerfile_and_restarts_the_daemon() -> None:
    service = _service()
    assert (ROOT / service["build"] / "Dockerfile").is_file()
    assert service["restart"] in {"always", "unless-stopped"}
    assert "command" not in service  # the image's CMD, `monitor run`, is the daemon


def test_compose_keeps_the_data_on_a_declared_volume_at_data() -> None:
    (mount,) = _service()["volumes"]
    name, target = mount.split(":")
    assert target == DATA
    assert name in COMPOSE["volumes"]


def test_compose_passes_the_save_page_now_keys_from_the_env_file_only() -> None:
    environment: dict[str, str] = _service()["environment"]
    assert set(environment) <= KNOWN_VARIABLES
    for variable in ("MONITOR_SPN_ACCESS_KEY", "MONITOR_SPN_SECRET_KEY"):
        assert environment[variable] == f"${{{variable}:-}}"  # interpolated, never written in
