"""Pictures for the notebooks: a course tool, not part of the U-Net you build.

Colour-blind-safe by default: images in ``gray``, maps in ``viridis``/``cividis``/``magma``,
lines and overlays in the Okabe–Ito palette (``unet_lib.runtime.OKABE_ITO``). Three modules, in
course order; everything is importable from ``unet_lib.viz`` directly (``viz.show_images``):

* ``viz.network`` — notebooks 00–05: images side by side, feature maps, number grids, the U-Net diagram;
* ``viz.data`` — notebooks 06–07: EM slices with labels, tiles, deformations, weight maps;
* ``viz.results`` — notebooks 08–09: loss curves (live in a notebook), error maps, tiles, predictions.
"""

from ..runtime import OKABE_ITO
from .data import (
    MEMBRANE_OVERLAY,
    show_data_samples,
    show_deformation,
    show_overlay,
    show_tile_geometry,
    show_weight_map,
)
from .network import (
    UNetShapes,
    as_image,
    draw_unet,
    record_unet_shapes,
    show_feature_maps,
    show_images,
    show_number_grid,
)
from .results import (
    ERROR_COLORS,
    LiveCurves,
    error_legend,
    error_map,
    plot_history,
    prediction_figure,
    show_prediction,
    show_tiles,
)

__all__ = [
    "OKABE_ITO",
    "MEMBRANE_OVERLAY",
    "show_data_samples",
    "show_deformation",
    "show_overlay",
    "show_tile_geometry",
    "show_weight_map",
    "UNetShapes",
    "as_image",
    "draw_unet",
    "record_unet_shapes",
    "show_feature_maps",
    "show_images",
    "show_number_grid",
    "ERROR_COLORS",
    "LiveCurves",
    "error_legend",
    "error_map",
    "plot_history",
    "prediction_figure",
    "show_prediction",
    "show_tiles",
]
