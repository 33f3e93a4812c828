"""Launching where learners are (issue 8): Colab as it ships, Binder, a laptop; Python 3.10–3.13.

* The course's version floors are ones Colab's preinstalled packages meet (Colab's published list,
  ``../shared/colab/pip-freeze.txt``), and ``pip install --dry-run`` of the course in a Colab-like venv
  (``tools/colab_env.py build``) changes no package Colab ships. Without the list or the venv these tests
  skip and say why; in CI (``CI=true``) they fail instead, since ``.ci/run`` provides both.
* ``runtime.where_running`` tells Colab, Binder and a laptop apart; notebook 00 reports it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

from unet_lib import runtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_env  # noqa: E402

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
"""The Python versions the course declares (pyproject classifiers); Colab runs 3.13."""


def unavailable(reason: str) -> None:
    """Skip, saying why; in CI, where .ci/run builds the Colab-like venv, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Colab checks: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def colab() -> dict[str, str]:
    try:
        return colab_env.colab_versions()
    except FileNotFoundError as error:
        unavailable(str(error))


@pytest.fixture(scope="module")
def colab_venv() -> Path:
    if os.environ.get("UNET_CI_LATER"):  # .ci/run: the venv is being built beside `make test`
        pytest.skip("the Colab-like venv is still being built; `.ci/colab test` runs this test there afterwards")
    venv = Path(os.environ.get("UNET_COLAB_VENV", colab_env.VENV))
    if not colab_env.venv_python(venv).exists():
        unavailable(f"no Colab-like venv at {venv}: build it with `python tools/colab_env.py build`")
    return venv


def requirements() -> list[Requirement]:
    """The library's dependencies and every extra's (what `make course` / `make test` install)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    return [Requirement(line) for line in lines]


def stdlib_imports(folder: Path) -> set[str]:
    """The standard-library modules (of this interpreter) that the code under ``folder`` imports."""
    names = set()
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names & set(sys.stdlib_module_names)


# -- Colab's versions meet every floor -----------------------------------------------------------


def test_every_floor_is_met_by_colab(colab):
    """A floor above Colab's version makes the setup cell upgrade a package Colab ships (ipywidgets 8 does not draw)."""
    too_high = [
        f"{r.name}{r.specifier} (Colab has {colab[colab_env.normalize(r.name)]})"
        for r in requirements()
        if colab_env.normalize(r.name) in colab
        and not r.specifier.contains(Version(colab[colab_env.normalize(r.name)]), prereleases=True)
    ]
    assert not too_high, "lower these floors in pyproject.toml and environment.yml: " + ", ".join(too_high)


def test_python_versions_are_declared():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    prefix = "Programming Language :: Python :: "
    declared = [c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix + "3.")]
    assert declared == PYTHONS
    requires = Requirement(f"python{project['requires-python']}").specifier
    assert all(Version(v) in requires for v in PYTHONS) and Version("3.9") not in requires


@pytest.mark.parametrize("version", PYTHONS)
def test_unet_lib_compiles_on_each_declared_python(version):
    """Syntax or modules an older Python lacks (``except*``, ``tomllib`` before 3.11) fail here (pyenv's Pythons)."""
    python = Path(colab_env.pyenv_root()) / "versions"
    candidates = sorted(python.glob(f"{version}.*/bin/python{version}"))
    if not candidates:
        pytest.skip(f"no Python {version} under {python} (pyenv install {version})")
    for source in sorted((ROOT / "unet_lib").rglob("*.py")):
        subprocess.run(
            [str(candidates[0]), "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", source],
            check=True,
        )
    stdlib = subprocess.run(
        [str(candidates[0]), "-c", "import sys; print(' '.join(sorted(sys.stdlib_module_names)))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    missing = sorted(stdlib_imports(ROOT / "unet_lib") - set(stdlib))
    assert not missing, f"unet_lib imports {missing}, which Python {version} does not have"


# -- the Colab-like venv: installing the course changes nothing Colab ships ---------------------------


@pytest.mark.slow
def test_installing_the_course_changes_no_colab_package(colab_venv):
    """Offline: pip resolves from the venv and the saved wheels of what Colab lacks (tools/colab_env.py build)."""
    python = colab_env.venv_python(colab_venv)
    have = colab_env.preinstalled(python)
    try:
        report = colab_env.dry_run_report(python, str(ROOT), offline=True)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"the course does not install over Colab's packages without upgrading one:\n{error.stderr}")
    changed, added = colab_env.changes(report, have)
    assert not changed, "installing the course on Colab would change: " + ", ".join(changed)
    assert {a.split()[0] for a in added} <= set(colab_env.COURSE_ADDS), f"unexpected additions: {added}"


@pytest.mark.slow
def test_installing_the_export_extra_changes_no_colab_package(colab_venv):
    """Notebook 11's export cell on Colab: bioimageio.core and .spec come in, no package Colab ships moves."""
    python = colab_env.venv_python(colab_venv)
    have = colab_env.preinstalled(python)
    try:
        report = colab_env.dry_run_report(python, f"{ROOT}[export]", offline=True)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"the [export] extra does not install over Colab's packages without upgrading one:\n{error.stderr}")
    changed, added = colab_env.changes(report, have)
    assert not changed, "installing the [export] extra on Colab would change: " + ", ".join(changed)
    unexpected = {a.split()[0] for a in added} - set(colab_env.COURSE_ADDS) - set(colab_env.EXPORT_ADDS)
    assert not unexpected, f"unexpected additions (list them in colab_env.EXPORT_ADDS if right): {sorted(unexpected)}"


def test_colab_venv_has_colab_versions(colab_venv, colab):
    assert not colab_env.mismatches(colab_env.installed(colab_env.venv_python(colab_venv)), colab)


# -- the pieces of tools/colab_env.py -------------------------------------------------------------


def test_read_freeze_takes_pins_and_wheel_urls():
    text = (
        "# comment\nipywidgets==7.7.1\nPyYAML==6.0.3\n"
        "torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl\n"
        "en-core-web-sm @ https://github.com/x/releases/download/en_core_web_sm-3.8.0/en_core_web_sm-3.8.0-py3-none-any.whl\n"
        "mypkg @ git+https://example.org/mypkg\n"
    )
    assert colab_env.read_freeze(text) == {
        "ipywidgets": "7.7.1", "pyyaml": "6.0.3", "torch": "2.11.0+cpu", "en-core-web-sm": "3.8.0",
    }  # fmt: skip


def test_constraints_leave_local_builds_and_cuda_libraries_to_torch():
    text = colab_env.constraints({"numpy": "2.1.3", "torch": "2.11.0+cpu", "nvidia-nccl-cu13": "2.31.2"})
    assert text == "numpy==2.1.3\n"


def test_changes_tell_upgrades_from_additions():
    report = {
        "install": [
            {"metadata": {"name": "ipywidgets", "version": "8.1.9"}},
            {"metadata": {"name": "torchinfo", "version": "1.8.0"}},
        ]
    }
    assert colab_env.changes(report, {"ipywidgets": "7.7.1", "numpy": "2.1.3"}) == (
        ["ipywidgets 7.7.1 → 8.1.9"],
        ["torchinfo 1.8.0"],
    )
    assert colab_env.mismatches({"ipywidgets": "8.1.9", "torch": "2.11.0", "nbval": "0.11.0"}, {
        "ipywidgets": "7.7.1", "torch": "2.11.0+cpu"}) == ["ipywidgets 8.1.9, Colab has 7.7.1"]  # fmt: skip


# -- where the notebook runs ----------------------------------------------------------------------


def test_where_running(monkeypatch):
    for name in [n for n in os.environ if n.startswith(("BINDER_", "COLAB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert runtime.where_running() == "local"
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    assert runtime.where_running() == "Binder"
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    assert runtime.where_running() == "Colab"


def test_environment_report_says_where_and_which_widgets():
    report = runtime.environment_report()
    assert list(report)[:2] == ["runs on", "python"] and report["runs on"] in runtime.WIDGET_HELP
    assert report["ipywidgets"].split(".")[0] in ("7", "8")


def test_widget_help_for_each_platform():
    assert "do not upgrade ipywidgets" in runtime.widget_help("Colab")
    assert "reload" in runtime.widget_help("Binder") and "jupyterlab_widgets" in runtime.widget_help("local")
    assert runtime.widget_help() == runtime.widget_help(runtime.where_running())
