"""tools/slides.py: decks that load nothing from the web (the browser test opens one: tests/browser)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402


def test_every_script_and_style_comes_from_beside_the_deck():
    for name, value in slides.settings().items():
        assert not str(value).startswith(("http:", "https:", "//")), name
    assert slides.settings()["reveal_url_prefix"] == "lib/reveal.js"
    assert slides.NO_MERMAID.startswith("data:")
    assert set(slides.LIBRARIES) == {"reveal.js", "requirejs", "jquery"}
    assert all(integrity.startswith("sha512-") for _, integrity, _ in slides.LIBRARIES.values())


def test_a_deck_copy_has_no_widget_state_and_no_pictures_from_the_web():
    nb = nbformat.read(ROOT / "notebooks" / "04_center_crop_and_skips.ipynb", as_version=4)
    assert "widgets" in nb.metadata and "badge" in nb.cells[0].source  # what the copy must lose
    deck = slides.for_slides(nb)
    assert "widgets" not in deck.metadata and "widgets" in nb.metadata  # the notebook itself is untouched
    assert "](https://colab.research.google.com/" in deck.cells[0].source and "badge" not in deck.cells[0].source
    outputs = [o for c in deck.cells for o in c.get("outputs", []) if "data" in o]
    assert not any("application/vnd.jupyter.widget-view+json" in o["data"] for o in outputs)
    assert any(o["data"].get("text/plain") == slides.WIDGET_NOTE for o in outputs)


def test_the_closing_line_counts_decks_with_runtime_plural(tmp_path, capsys, monkeypatch):
    """A walk: `tools/slides.py notebooks/00_welcome.ipynb` ended "wrote 1 slide decks"."""
    monkeypatch.setattr(slides, "build", lambda paths, out: [out / "00_welcome.slides.html"])
    assert slides.main(["--out", str(tmp_path), str(ROOT / "notebooks" / "00_welcome.ipynb")]) == 0
    assert "wrote 1 slide deck to " in capsys.readouterr().out
