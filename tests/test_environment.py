"""environment.yml (Binder, conda) and pyproject.toml (pip, CI) must describe the same course environment.

Binder builds ``environment.yml`` with repo2docker; everyone else installs ``pyproject.toml``. When a
dependency is added to one and not the other, or their lower bounds differ, these tests fail and
say which line to change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

CONDA_NAMES = {"torch": "pytorch"}
"""PyPI name → conda-forge name where the two differ (after normalising ``-``/``_``)."""

NOT_ON_BINDER = {
    "playwright": "the real-browser test runs in CI, not in a learner's environment",
    "ruff": "the linter and formatter run in CI (make test), not in a learner's environment",
    "unet-from-scratch": "the test extra names the export extra as unet-from-scratch[export]; its packages are listed",
}
"""pyproject dependencies that environment.yml leaves out on purpose, and why."""

CONDA_ONLY = {
    "python": "the interpreter itself (pyproject's requires-python)",
    "pip": "installs unet_lib from the repository",
    "pytorch-cpu": "selects the CPU build of pytorch on conda-forge",
}
"""environment.yml packages that have no pyproject counterpart, and why."""

_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.-]+)\s*(.*)$")


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def environment() -> dict:
    with open(ROOT / "environment.yml") as f:
        return yaml.safe_load(f)


def pip_requirements(project: dict) -> dict[str, SpecifierSet]:
    """Every dependency pyproject asks for: the library's, and the ``lab`` and ``test`` extras."""
    lines = list(project["project"]["dependencies"])
    for extra in project["project"].get("optional-dependencies", {}).values():
        lines += extra
    found: dict[str, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        found[canonicalize_name(requirement.name)] = requirement.specifier
    return found


def conda_packages(env: dict) -> dict[str, str]:
    """Normalised conda package name → its version spec as written (``""`` when unpinned)."""
    found: dict[str, str] = {}
    for entry in env["dependencies"]:
        if isinstance(entry, str):
            match = _CONDA_SPEC.match(entry.strip())
            assert match, f"environment.yml: cannot read the dependency {entry!r}"
            found[canonicalize_name(match.group(1))] = match.group(2).replace(" ", "")
    return found


def pip_section(env: dict) -> list[str]:
    sections = [entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict) and "pip" in entry]
    assert len(sections) == 1, "environment.yml needs exactly one `- pip:` section (it installs unet_lib)"
    return sections[0]


def conda_name(pip_name: str) -> str:
    return canonicalize_name(CONDA_NAMES.get(pip_name, pip_name))


def disagreements(project: dict, env: dict) -> list[str]:
    """Human-readable differences between the two files (empty when they agree)."""
    wanted = pip_requirements(project)
    have = conda_packages(env)
    problems = []
    for name, spec in sorted(wanted.items()):
        if name in NOT_ON_BINDER:
            continue
        target = conda_name(name)
        if target not in have:
            problems.append(f"pyproject.toml needs {name}{spec} but environment.yml has no `{target}`")
        elif SpecifierSet(have[target]) != spec:
            problems.append(
                f"{name}: pyproject.toml says {spec or 'any version'}, "
                f"environment.yml says {have[target] or 'any version'}"
            )
    expected = {conda_name(n) for n in wanted} | {canonicalize_name(n) for n in CONDA_ONLY}
    for extra in sorted(set(have) - expected):
        problems.append(f"environment.yml installs `{extra}`, which pyproject.toml does not list")
    return problems


def test_environment_and_pyproject_agree():
    problems = disagreements(pyproject(), environment())
    assert not problems, "environment.yml and pyproject.toml disagree:\n  " + "\n  ".join(problems)


def test_disagreement_is_detected():
    """The comparison itself notices a missing package, a different bound and an extra package."""
    project, env = pyproject(), environment()
    project["project"]["dependencies"] = ["torch>=2.2", "numpy>=1.24", "einops>=0.7"]
    project["project"]["optional-dependencies"] = {}
    env["dependencies"] = ["python=3.12", "pytorch>=2.1", "numpy>=1.24", "pandas", "pip", {"pip": ["-e ."]}]
    problems = disagreements(project, env)
    assert any("einops" in p and "no `einops`" in p for p in problems)
    assert any(p.startswith("torch:") for p in problems)
    assert any("`pandas`" in p for p in problems)
    assert not any("numpy" in p for p in problems)


def test_python_version_is_stated_and_allowed():
    python = conda_packages(environment()).get("python", "")
    match = re.fullmatch(r"=+(\d+\.\d+)", python)
    assert match, "environment.yml must pin the Python minor version (e.g. `python=3.12`); repo2docker reads it"
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert Version(match.group(1)) in requires, f"python {match.group(1)} is outside requires-python {requires}"


def test_conda_forge_and_cpu_pytorch():
    env = environment()
    assert env["channels"][0] == "conda-forge", "conda-forge must be the first (and main) channel"
    assert "defaults" not in env["channels"]
    packages = conda_packages(env)
    assert "pytorch-cpu" in packages, "pytorch-cpu selects the CPU build; Binder has no GPU"
    assert not any("cuda" in name for name in packages)
    assert re.match(r">=4(\.|$)", packages["jupyterlab"])
    # conda-forge resolves ipywidgets 8 for JupyterLab 4; the floor stays at Colab's 7.7.1 (tests/test_colab.py)
    assert Version("7.7.1") in SpecifierSet(packages["ipywidgets"])


def test_unet_lib_is_installed_from_the_repository():
    """repo2docker copies the whole repository before building when the pip section has a local path."""
    lines = pip_section(environment())
    assert lines == ["-e ."], "the pip section installs only the repository itself; its dependencies come from conda"


@pytest.mark.parametrize("name", ["Dockerfile", "binder", ".binder"])
def test_nothing_overrides_environment_yml_on_binder(name):
    """A Dockerfile, or a binder/ folder, would make repo2docker ignore the top-level environment.yml."""
    assert not (ROOT / name).exists(), (
        f"{name} would change how Binder builds the course; keep environment.yml the one recipe"
    )
