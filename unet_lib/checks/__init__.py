"""Automatic feedback for the notebooks' exercises (a course tool, not part of the U-Net).

Each ``check_*`` function takes the learner's answer (usually a function), tries it on a few
cases and returns a ``Feedback`` that says *what* is wrong, not just "wrong". An answer that
still raises ``NotImplementedError`` (the student version's stub) gets a friendly "your turn"
that names the learner's own function, so "Run all" keeps going.

Modules by responsibility, in course order (each builds on ``core`` and imports only ``unet_lib``):

* ``core`` — ``Feedback``, ``attempt`` and the one checker skeleton ``check_cases``: a table of
  ``Case`` s (inputs → the expected value) and a table of typical ``Mistake`` s (the wrong answer a
  slip gives → the sentence that names it).
* ``basics`` — notebook 00: ``check_to_model_input``, ``check_pixels_lost_per_side``;
  01: ``check_conv_output_size``, ``check_conv_parameter_count``, ``check_double_conv_block``.
* ``sampling`` — notebook 02: ``check_max_pool_by_hand``, ``check_contracting_path_sizes``;
  03: ``check_transposed_conv_by_hand``, ``check_transposed_output_size``.
* ``unet`` — notebook 04: ``check_center_crop``, ``check_crop_per_side``;
  05: ``check_nearest_valid_size``, ``check_registers_layers``, ``check_unet_parameter_count``.
* ``data`` — notebook 06: ``check_mirror_pad``, ``check_cell_fraction``;
  07: ``check_cross_entropy_by_hand``, ``check_border_weight``.
* ``training`` — notebook 08: ``check_train_step``, ``check_should_stop``, ``check_save_atomically``;
  09: ``check_count_tiles``, ``check_foreground_iou``, ``check_isbi_pixel_error``.
* ``own_images`` — notebook 11: ``check_colour_to_instances``, ``check_object_scores``,
  ``check_median_diameter``.
* ``lab`` — notebook 11, section 10 (a bioimage.io package): ``check_halo``.
* ``debugging`` — notebook 12: ``check_diagnosis`` (one of ``CAUSES`` for a case of ``mystery_setup``),
  ``check_first_loss``.

A new notebook's checkers go in a module of their own that builds on ``core``, and one import
line below.
"""

from .basics import (
    check_conv_output_size,
    check_conv_parameter_count,
    check_double_conv_block,
    check_pixels_lost_per_side,
    check_to_model_input,
)
from .core import Case, Feedback, Mistake, attempt, case, check_cases, your_turn
from .data import check_border_weight, check_cell_fraction, check_cross_entropy_by_hand, check_mirror_pad
from .debugging import CAUSES, check_diagnosis, check_first_loss, mystery_setup
from .going_further import check_scaling_efficiency, check_v_info, check_v_rand
from .lab import check_halo
from .own_images import check_colour_to_instances, check_median_diameter, check_object_scores
from .sampling import (
    check_contracting_path_sizes,
    check_max_pool_by_hand,
    check_transposed_conv_by_hand,
    check_transposed_output_size,
)
from .training import (
    check_count_tiles,
    check_foreground_iou,
    check_isbi_pixel_error,
    check_save_atomically,
    check_should_stop,
    check_train_step,
)
from .unet import (
    check_center_crop,
    check_crop_per_side,
    check_nearest_valid_size,
    check_registers_layers,
    check_unet_parameter_count,
)

__all__ = [
    # the skeleton, for checkers of later notebooks
    "Case",
    "Feedback",
    "Mistake",
    "attempt",
    "case",
    "check_cases",
    "your_turn",
    # notebooks 00–01
    "check_to_model_input",
    "check_pixels_lost_per_side",
    "check_conv_output_size",
    "check_conv_parameter_count",
    "check_double_conv_block",
    # notebooks 02–03
    "check_max_pool_by_hand",
    "check_contracting_path_sizes",
    "check_transposed_conv_by_hand",
    "check_transposed_output_size",
    # notebooks 04–05
    "check_center_crop",
    "check_crop_per_side",
    "check_nearest_valid_size",
    "check_registers_layers",
    "check_unet_parameter_count",
    # notebooks 06–07
    "check_mirror_pad",
    "check_cell_fraction",
    "check_cross_entropy_by_hand",
    "check_border_weight",
    # notebooks 08–09
    "check_train_step",
    "check_should_stop",
    "check_save_atomically",
    "check_count_tiles",
    "check_foreground_iou",
    "check_isbi_pixel_error",
    # notebook 10
    "check_v_rand",
    "check_v_info",
    "check_scaling_efficiency",
    # notebook 11
    "check_colour_to_instances",
    "check_object_scores",
    "check_median_diameter",
    "check_halo",
    # notebook 12
    "CAUSES",
    "mystery_setup",
    "check_diagnosis",
    "check_first_loss",
]
