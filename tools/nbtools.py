"""Maintainer tools for the course notebooks: the standard header, and execution in place.

    python tools/nbtools.py execute notebooks/01_double_convolution.ipynb [...]
    python tools/nbtools.py header 01_double_convolution     # print the standard first cells

Notebooks are stored executed top to bottom (nbval compares against the stored outputs),
so after editing a notebook run ``execute`` on it and commit the result.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BRANCH = "main"


def repository_url() -> str:
    """The one configured repository address (pyproject ``[project.urls] Repository``)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


def github_slug() -> str:
    return repository_url().removeprefix("https://github.com/")


def badges_markdown(stem: str) -> str:
    """Colab and Binder badges for ``notebooks/<stem>.ipynb``, built from the repository address."""
    slug = github_slug()
    colab = f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/notebooks/{stem}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{slug}/{BRANCH}?labpath=notebooks%2F{stem}.ipynb"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def setup_cell_source() -> str:
    """The first code cell of every notebook: installs unet_lib on Colab only, then seeds and picks the device."""
    return (
        "# Setup. On Colab this first installs the course library (Colab's own torch is kept);\n"
        "# elsewhere the course environment already has it.\n"
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    %pip install -q \"unet-from-scratch @ git+{repository_url()}@{BRANCH}\"\n"
        "\n"
        "from unet_lib import runtime\n"
        "\n"
        "device = runtime.setup_notebook(seed=0)"
    )


def execute(path: Path, timeout: int = 900) -> float:
    """Run a notebook top to bottom in its own folder and store the outputs; returns seconds taken."""
    from nbclient import NotebookClient

    env_data = ROOT.parent / "shared" / "data"
    if "UNET_DATA_DIR" not in os.environ and env_data.is_dir():
        os.environ["UNET_DATA_DIR"] = str(env_data)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute notebooks in place")
    run.add_argument("paths", nargs="+", type=Path)
    head = sub.add_parser("header", help="print the standard badge markdown and setup cell")
    head.add_argument("stem")
    args = parser.parse_args(argv)
    if args.command == "execute":
        for path in args.paths:
            print(f"{path.name}: {execute(path):.1f} s", file=sys.stderr)
    else:
        print(badges_markdown(args.stem))
        print()
        print(setup_cell_source())


if __name__ == "__main__":
    main()
