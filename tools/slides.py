"""Slide decks of the course notebooks that work without internet: ``make slides`` → ``site/slides/``.

    python tools/slides.py                    # every notebooks/NN_*.ipynb → site/slides/NN_*.slides.html + lib/
    python tools/slides.py --out /tmp/decks notebooks/08_training.ipynb
    python tools/slides.py --install          # only fetch the libraries into the environment (make setup does it)

``jupyter nbconvert --to slides`` writes decks that load reveal.js, require.js (which starts reveal.js), jQuery,
MathJax and mermaid from CDNs, so in a lecture hall without internet they show raw HTML. These decks load them
from ``lib/`` beside them instead: reveal.js, require.js and jQuery come from their npm packages (pinned versions,
checked against the registry's SHA-512 by ``npm pack``), fetched once into ``<venv>/share/unet-course-slides/``
(git-ignored, like the environment) and copied next to the decks, so the folder works from a USB stick. The
course has no LaTeX and no diagrams, so MathJax and mermaid get a stub of a few lines that keeps nbconvert's slide
script happy. Widgets cannot run in a static deck: their saved state is left out (it would load a renderer from a
CDN), and a line says where to use them. The slides come from each notebook's slide metadata, as with RISE
(``Alt+R`` in JupyterLab); the stored outputs are shown as they are, nothing is re-run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import NOTEBOOKS, ROOT  # noqa: E402

LIBRARIES = {
    "reveal.js": (
        "5.2.1",
        "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
        {"package/dist/": "reveal.js/dist/", "package/plugin/notes/": "reveal.js/plugin/notes/"},
    ),
    "requirejs": (
        "2.3.7",
        "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
        {"package/require.js": "require.js"},
    ),
    "jquery": (
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        {"package/dist/jquery.min.js": "jquery.min.js"},
    ),
}
"""npm package → (version, the registry's integrity hash of its tarball, {path in the tarball: path in lib/})."""

LIBRARY_HOME = Path(sys.prefix) / "share" / "unet-course-slides"
"""Where ``--install`` (``make setup``) keeps the libraries: inside the environment, out of git."""

NO_MATHJAX = """// The course has no LaTeX: nbconvert's slide script only asks MathJax to typeset each new slide.
window.MathJax = {Hub: {Config() {}, Queue() {}, getAllJax() { return []; }, Rerender() {}}};
"""
NO_MERMAID = "data:text/javascript,export default {initialize() {}};"
"""The course has no mermaid diagrams; nbconvert imports mermaid as a module, so a data URL stands in for it."""

BADGE = re.compile(r"\[!\[([^\]]*)\]\(https?://[^)]*\)\]\(([^)]*)\)")
"""A badge: a linked picture from the web, ``[![Open In Colab](https://…svg)](https://colab…)``."""
WIDGET_NOTE = "(an interactive widget: run the notebook in Jupyter or Colab to use it)"


def settings() -> dict[str, object]:
    """The exporter's settings: every script from ``lib/`` beside the deck, long slides scroll."""
    return {
        "reveal_url_prefix": "lib/reveal.js",
        "require_js_url": "lib/require.js",
        "jquery_url": "lib/jquery.min.js",
        "mathjax_url": "lib/no-mathjax.js",
        "reveal_theme": "white",  # its font ships with reveal.js; "simple", nbconvert's default, loads Google Fonts
        "reveal_scroll": True,
        "embed_images": True,
    }


# -- the libraries ----------------------------------------------------------------------------------------------
def installed(home: Path = LIBRARY_HOME) -> bool:
    """Whether ``home`` holds the pinned version of every library."""
    versions = [home / name / ".version" for name in LIBRARIES]
    return all(v.is_file() and v.read_text() == LIBRARIES[v.parent.name][0] for v in versions)


def install_libraries(home: Path = LIBRARY_HOME) -> Path:
    """Fetch the pinned npm packages with ``npm pack`` (checked against their integrity hash) into ``home``."""
    if installed(home):
        return home
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed once to fetch reveal.js for offline slides: install Node.js (it brings npm)")
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, (version, _, _) in LIBRARIES.items()]
        done = subprocess.run(
            ["npm", "pack", *specs, "--json", "--pack-destination", tmp], capture_output=True, text=True, cwd=tmp
        )
        if done.returncode != 0:
            raise SystemExit(f"npm pack {' '.join(specs)} failed:\n{done.stderr[-2000:]}")
        packed = {entry["name"]: entry for entry in json.loads(done.stdout)}
        for name, (version, integrity, paths) in LIBRARIES.items():
            entry = packed[name]
            if entry["version"] != version or entry["integrity"] != integrity:
                raise SystemExit(f"{name}@{version}: the registry's tarball is not the one pinned in {__file__}")
            folder = home / name
            shutil.rmtree(folder, ignore_errors=True)
            unpack(Path(tmp) / entry["filename"], paths, folder)
            (folder / ".version").write_text(version)
    return home


def unpack(tarball: Path, paths: dict[str, str], folder: Path) -> None:
    """Copy the wanted files (``paths``: a file, or a folder ending in ``/``) out of an npm tarball."""
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            target = next(
                (new + member.name[len(old) :] for old, new in paths.items() if _wanted(member.name, old)), None
            )
            if target is None or not member.isfile() or ".." in Path(target).parts:
                continue
            destination = folder / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.extractfile(member).read())


def _wanted(name: str, path: str) -> bool:
    return name.startswith(path) if path.endswith("/") else name == path


def copy_libraries(out: Path, home: Path = LIBRARY_HOME) -> None:
    """``out/lib/``: reveal.js, require.js, jQuery from ``home``, and the MathJax stub."""
    lib = out / "lib"
    for name, (_, _, paths) in LIBRARIES.items():
        for new in paths.values():
            source, target = home / name / new, lib / new
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    (lib / "no-mathjax.js").write_text(NO_MATHJAX)


# -- the decks ----------------------------------------------------------------------------------------------------
def for_slides(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy fit for an offline deck: no saved widget state (its renderer would come from a CDN), widget outputs
    that say what they are instead of their Python repr, and the Colab/Binder badges (pictures from the web) as
    plain links."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = BADGE.sub(r"[\1](\2)", cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                output["data"] = {"text/plain": WIDGET_NOTE}
    return nb


def write_deck(path: Path, out: Path) -> Path:
    """One notebook as ``out/<name>.slides.html``."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    exporter = SlidesExporter(config=Config({"SlidesExporter": settings()}))
    exporter.mermaid_js_url = NO_MERMAID  # not a configurable setting in nbconvert 7
    nb = for_slides(nbformat.read(path, as_version=4))
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem, "path": str(path.parent)}})
    deck = out / f"{path.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck


def build(paths: list[Path], out: Path) -> list[Path]:
    home = install_libraries()
    out.mkdir(parents=True, exist_ok=True)
    copy_libraries(out, home)
    return [write_deck(path, out) for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every course notebook)")
    parser.add_argument("--out", type=Path, default=ROOT / "site" / "slides", help="folder (default site/slides)")
    parser.add_argument("--install", action="store_true", help=f"only fetch the libraries into {LIBRARY_HOME}")
    args = parser.parse_args(argv)
    if args.install:
        print(f"slide libraries in {install_libraries()}")
        return 0
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    decks = build(paths, args.out)
    from unet_lib.runtime import plural  # here, not above: --install and a bad name need no torch

    print(f"wrote {plural(len(decks), 'slide deck')} to {args.out} (open one in a browser; no internet needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
