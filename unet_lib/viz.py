"""Pictures for the notebooks: images, feature maps, shape flows, overlays, curves.

Colour-blind-safe by default: images in ``gray``, maps in ``viridis``/``cividis``/``magma``,
lines and overlays in the Okabe–Ito palette (``unet_lib.runtime.OKABE_ITO``).
Sections follow the notebooks that introduce each picture.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .runtime import OKABE_ITO
