"""A Colab-like environment for CI (issue 8): Python 3.13 with the versions Google Colab preinstalls.

    python tools/colab_env.py build       # .colab-venv: Colab's versions of what the course touches, + nbval
    python tools/colab_env.py dry-run     # what `pip install <course>` would change there (exit 1: a Colab package)
    python tools/colab_env.py setup-cell  # run notebook 00's setup cell as Colab would, with a stand-in google.colab

Colab's versions come from its published package list (``../shared/colab/pip-freeze.txt``, or
``$UNET_COLAB_FREEZE``): every package installed here, asked for or pulled in, is held at Colab's version by
a constraints file made from that list. PyTorch is the one exception: Colab's ``2.11.0+cpu`` wheel lives on
PyTorch's own index, which CI cannot reach, so the venv gets PyPI's ``torch==2.11.0`` (the same version, built
with CUDA libraries that simply stay unused on a CPU). ``.ci/colab`` runs the three steps, then the widget tests
and every notebook in that venv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".colab-venv"
FREEZE_ENV = "UNET_COLAB_FREEZE"
BASE_PYTHON_ENV = "UNET_COLAB_BASE_PYTHON"
TORCH = "torch==2.11.0"
"""Colab's torch version (its list says ``torch-2.11.0+cpu``), as PyPI has it for Python 3.13."""

COLAB_PACKAGES = [
    # what unet_lib imports (pyproject [project] dependencies that Colab ships)
    "numpy", "scipy", "scikit-image", "matplotlib", "pillow", "tqdm", "pooch", "requests", "tifffile",
    # the notebook front end's Python side: widgets and the kernel
    "ipywidgets", "widgetsnbextension", "jupyterlab_widgets", "ipython", "ipykernel", "jupyter_client",
    "jupyter_core", "traitlets", "notebook",
    # running and checking notebooks, building the course from its checkout
    "nbformat", "nbclient", "nbconvert", "pytest", "packaging", "setuptools", "wheel", "PyYAML",
    # what the [export] extra needs that Colab ships (bioimageio.core's and bioimageio.spec's dependencies)
    "pydantic", "xarray", "imageio", "httpx", "rich", "Markdown", "platformdirs", "python-dateutil", "zipp",
    "filelock", "python-dotenv", "typing-inspection", "annotated-types", "distro",
]  # fmt: skip
"""The packages the course touches that Colab preinstalls; each is installed at Colab's version."""

TORCH_BUILD = ("nvidia-", "cuda-", "triton")
"""Name prefixes of the CUDA libraries that PyPI's torch build brings along: torch pins them, not Colab."""

COURSE_ADDS = ["unet-from-scratch", "torchinfo"]
"""What the setup cell installs on Colab: the course and the one dependency Colab lacks."""

EXPORT_ADDS = [
    "bioimageio-core", "bioimageio-spec", "genericache", "pydantic-settings", "loguru", "ruyaml", "imagecodecs",
    "email-validator", "dnspython", "exceptiongroup",
]  # fmt: skip
"""What ``pip install 'unet-from-scratch[export]'`` adds on Colab (notebook 11's export cell): bioimageio and what it
needs that Colab lacks, measured by resolving the extra against Colab's versions; the rest, Colab has."""

CI_ONLY = ["nbval"]
"""What the CI job adds that Colab lacks and a learner never installs: nbval runs the notebooks under pytest."""

_URL_VERSION = re.compile(r"/(?P<name>[A-Za-z0-9_.]+)-(?P<version>[0-9][^-/]*)-[^/]*\.whl$")


def normalize(name: str) -> str:
    """PEP 503's normal form of a package name: ``PyYAML`` and ``pyyaml``, ``lazy_loader`` and ``lazy-loader`` agree."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_freeze(text: str) -> dict[str, str]:
    """``pip freeze`` text → {normalized name: version}; ``name @ URL-of-a-wheel`` lines take the URL's version."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[normalize(name)] = version.strip()
        elif " @ " in line:
            name, url = line.split(" @ ", 1)
            match = _URL_VERSION.search(url.strip().replace("%2B", "+"))
            if match:
                found[normalize(name)] = match.group("version")
    return found


def freeze_path() -> Path:
    return Path(os.environ.get(FREEZE_ENV) or ROOT.parent / "shared" / "colab" / "pip-freeze.txt")


def colab_versions() -> dict[str, str]:
    """Colab's preinstalled packages; ``FileNotFoundError`` with what to do when the list is not there."""
    path = freeze_path()
    if not path.is_file():
        raise FileNotFoundError(f"Colab's package list is not at {path}: set ${FREEZE_ENV} to a copy of it")
    return read_freeze(path.read_text())


def constraints(versions: dict[str, str]) -> str:
    """A pip constraints file that holds every package Colab has at Colab's version (local builds like +cpu aside)."""
    return "".join(
        f"{name}=={version}\n"
        for name, version in sorted(versions.items())
        if "+" not in version and not name.startswith(TORCH_BUILD)
    )


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def pyenv_root() -> Path:
    """Where pyenv keeps its Pythons (``pyenv root``; ``~/.pyenv`` when pyenv is not on the path)."""
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        root = ""
    return Path(root or "~/.pyenv").expanduser()


def base_python() -> str:
    """Python 3.13 from pyenv (Colab's minor version), or ``$UNET_COLAB_BASE_PYTHON``."""
    return os.environ.get(BASE_PYTHON_ENV) or str(pyenv_root() / "versions" / "3.13.0" / "bin" / "python3.13")


def pip(python: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", *args], check=True, text=True, capture_output=capture, cwd=ROOT)


def installed(python: Path) -> dict[str, str]:
    """{normalized name: version} of everything installed in the environment of ``python``."""
    listing = pip(python, "list", "--format=json", capture=True).stdout
    return {normalize(p["name"]): p["version"] for p in json.loads(listing)}


# -- build ------------------------------------------------------------------------------------------


def build(venv: Path) -> None:
    """Create ``venv`` on Python 3.13 with Colab's versions of ``COLAB_PACKAGES`` and their dependencies, + nbval."""
    versions = colab_versions()
    missing = [name for name in COLAB_PACKAGES if normalize(name) not in versions]
    if missing:
        raise SystemExit(f"Colab's list has no {', '.join(missing)}: update COLAB_PACKAGES in tools/colab_env.py")
    python = venv_python(venv)
    if not python.exists():
        subprocess.run([base_python(), "-m", "venv", str(venv)], check=True)
    pinned = venv / "colab-constraints.txt"
    pinned.write_text(constraints(versions))
    pip(python, "install", "-q", f"pip=={versions['pip']}")
    pip(python, "install", "-q", "-c", str(pinned), TORCH)
    pip(python, "install", "-q", "-c", str(pinned), *COLAB_PACKAGES, *CI_ONLY)
    pip(python, "uninstall", "-q", "-y", *COURSE_ADDS)  # a venv kept from an earlier run starts as Colab does
    pip(python, "download", "-q", "--no-deps", "-d", str(venv / "wheels"), *COURSE_ADDS[1:])  # for offline dry-runs
    save_export_wheels(python, venv / "wheels")
    report = mismatches(installed(python), versions)
    if report:
        raise SystemExit("the Colab-like venv differs from Colab:\n  " + "\n  ".join(report))
    print(f"{venv.name}: Python {python_version(python)}, {len(installed(python))} packages at Colab's versions")


def save_export_wheels(python: Path, folder: Path) -> None:
    """Save the wheels that the ``[export]`` extra adds, at the versions pip resolves here, for offline dry-runs."""
    report = dry_run_report(python, f"{ROOT}[export]")
    have = installed(python)
    pins = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in report.get("install", [])
        if normalize(item["metadata"]["name"]) not in have and normalize(item["metadata"]["name"]) not in COURSE_ADDS
    ]
    if pins:
        pip(python, "download", "-q", "--no-deps", "-d", str(folder), *pins)


def python_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def mismatches(have: dict[str, str], colab: dict[str, str]) -> list[str]:
    """Packages of this environment whose version differs from Colab's (torch compared without its +cpu)."""
    problems = []
    for name, version in sorted(have.items()):
        wanted = colab.get(name)
        if name.startswith(TORCH_BUILD) or wanted is None:
            continue
        if wanted.split("+")[0] != version.split("+")[0]:
            problems.append(f"{name} {version}, Colab has {wanted}")
    return problems


# -- what installing the course would change -----------------------------------------------------------


def dry_run_report(python: Path, target: str, offline: bool = False) -> dict:
    """``pip install --dry-run --report`` of ``target`` in the environment of ``python``.

    No build isolation: the setuptools that is there builds the course's metadata, as on Colab. ``offline``
    resolves from what is installed plus the wheels ``build`` saved of what Colab lacks (``wheels/``), so
    the test needs no network; a floor above an installed version then fails to resolve instead of upgrading.
    """
    index = ["--no-index", "--find-links", str(python.parents[1] / "wheels")] if offline else []
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        pip(python, "install", "--dry-run", "-q", "--no-build-isolation", *index, "--report", str(report), target,
            capture=True)  # fmt: skip
        return json.loads(report.read_text())


def changes(report: dict, have: dict[str, str]) -> tuple[list[str], list[str]]:
    """(changed, added): ``name old → new`` for installed packages the install replaces, ``name version`` for new."""
    changed, added = [], []
    for item in report.get("install", []):
        name, version = normalize(item["metadata"]["name"]), item["metadata"]["version"]
        if name in have:
            changed.append(f"{name} {have[name]} → {version}")
        else:
            added.append(f"{name} {version}")
    return changed, added


def preinstalled(python: Path) -> dict[str, str]:
    """What the Colab-like venv holds before the course: everything but ``COURSE_ADDS`` (left from a setup-cell run)."""
    return {name: version for name, version in installed(python).items() if name not in COURSE_ADDS}


def dry_run(venv: Path, target: str, course: str = "unet-from-scratch") -> int:
    python = venv_python(venv)
    changed, added = changes(dry_run_report(python, target), preinstalled(python))
    print(f"pip install --dry-run {target} in {venv.name}:")
    print("  would change: " + (", ".join(changed) if changed else "nothing that is installed"))
    print("  would add:    " + ", ".join(a for a in added if not a.startswith(course + " ")) + f" (and {course})")
    return 1 if changed else 0


# -- the setup cell, as Colab runs it --------------------------------------------------------------

STANDIN = '"""Stand-in for Colab\'s google.colab in CI: the setup cell only asks whether it is imported."""\n'
STARTUP = "import google.colab  # Colab's kernel imports it at start; so does this stand-in's\n"
PROBE = """import json, sys
json.dump(sorted({name.split(".")[0] for name in sys.modules}), open({path!r}, "w"))"""
REPORT = """from unet_lib import runtime
print("unet_lib from", "site-packages" if "site-packages" in runtime.__file__ else runtime.__file__)
print("runs on:", runtime.environment_report()["runs on"])"""


def kernel_folder(venv: Path, folder: Path) -> dict[str, str]:
    """A kernel spec for ``venv`` whose kernel has a stand-in ``google.colab`` imported at start; returns its env."""
    package = folder / "standin" / "google" / "colab"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text(STANDIN)
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(STARTUP)
    spec = folder / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    argv = [str(venv_python(venv)), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab-like", "language": "python"}))
    quiet = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}  # debugpy's note on Python 3.13's frozen modules
    return {"JUPYTER_PATH": str(folder / "jupyter"), "IPYTHONDIR": str(folder / "ipython"),
            "PYTHONPATH": str(folder / "standin"), **quiet}  # fmt: skip


def run_setup_cell(venv: Path, source: str) -> int:
    """Run notebook 00's setup cell in a Colab-like kernel with ``UNET_INSTALL_SOURCE=source``.

    Fails when a package Colab preinstalls changed version, or when what was installed had already been
    imported by the kernel (Colab then asks for a restart), or when the cell's output mentions a restart.
    """
    python = venv_python(venv)
    before = installed(python)
    setup = next(c for c in nbformat.read(ROOT / "notebooks" / "00_welcome.ipynb", 4).cells if c.cell_type == "code")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = {**os.environ, **kernel_folder(venv, folder), "UNET_INSTALL_SOURCE": source}
        modules = folder / "modules.json"
        cells = [PROBE.replace("{path!r}", repr(str(modules))), setup.source, REPORT]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "colab", "display_name": "Colab-like", "language": "python"}
        run = [str(python), __file__, "_execute", "--notebook", str(folder / "setup.ipynb")]
        nbformat.write(nb, folder / "setup.ipynb")
        start = time.perf_counter()
        subprocess.run(run, check=True, env=env, cwd=ROOT / "notebooks")
        seconds = time.perf_counter() - start
        nb = nbformat.read(folder / "setup.ipynb", 4)
        imported = set(json.loads(modules.read_text()))
    after = installed(python)
    changed = [f"{n} {v} → {after.get(n, 'removed')}" for n, v in sorted(before.items()) if after.get(n) != v]
    added = sorted(f"{n} {after[n]}" for n in set(after) - set(before))
    reloaded = sorted(imported & top_level_modules(python, [n.split()[0] for n in added]))
    setup_text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    print(f"setup cell on a Colab-like kernel ({seconds:.0f} s): installed {', '.join(added) or 'nothing'}")
    print("  cell output: " + (setup_text.strip().replace("\n", " | ") or "(none)"))
    print("  " + "".join(o.get("text", "") for o in nb.cells[2].outputs).strip().replace("\n", "\n  "))
    problems = [f"changed a Colab package: {c}" for c in changed]
    problems += [
        f"installed {m}, which the kernel had already imported: Colab would ask for a restart" for m in reloaded
    ]
    if re.search(r"restart", setup_text, re.IGNORECASE):
        problems.append("the setup cell's output asks for a restart")
    if "runs on: Colab" not in "".join(o.get("text", "") for o in nb.cells[2].outputs):
        problems.append("runtime.environment_report() did not recognise the Colab-like kernel")
    for problem in problems:
        print("  ❌ " + problem)
    return 1 if problems else 0


def top_level_modules(python: Path, names: list[str]) -> set[str]:
    """The importable top-level modules of distributions ``names`` in the environment of ``python``."""
    code = textwrap.dedent("""
        import json, sys
        from importlib.metadata import packages_distributions
        wanted = {n.replace("_", "-").lower() for n in sys.argv[1:]}
        print(json.dumps([m for m, ds in packages_distributions().items()
                          if any(d.replace("_", "-").lower() in wanted for d in ds)]))
    """)
    out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def execute_notebook(path: Path) -> None:
    """Run in the Colab-like venv (``_execute``): execute ``path`` in its kernel and store the outputs."""
    nb = nbformat.read(path, 4)
    NotebookClient(nb, timeout=600, kernel_name="colab").execute()
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "dry-run", "setup-cell", "_execute"])
    parser.add_argument("--venv", type=Path, default=VENV, help="the Colab-like venv (default: .colab-venv)")
    parser.add_argument("--source", default=str(ROOT), help="what to install (default: this checkout)")
    parser.add_argument("--notebook", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command == "build":
        build(args.venv.resolve())
        status = 0
    elif args.command == "dry-run":
        status = dry_run(args.venv.resolve(), args.source)
    elif args.command == "setup-cell":
        status = run_setup_cell(args.venv.resolve(), args.source)
    else:
        execute_notebook(args.notebook)
        return
    print(f"colab_env {args.command}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
