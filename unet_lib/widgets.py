"""Interactive explorers for the notebooks (ipywidgets 8).

Each function builds and returns a widget; the notebook displays it. Widgets work in
JupyterLab, Binder and Colab; without a front end (nbval, a terminal) they still build.
Sections follow the notebooks that introduce each widget.
"""

from __future__ import annotations

import ipywidgets as widgets
