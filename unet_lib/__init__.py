"""unet_lib: the finalized code of the U-Net from Scratch course.

Each notebook builds one piece and later notebooks import it from here. The original example
keeps working::

    >>> import torch
    >>> from unet_lib.model import UNetModel
    >>> UNetModel()(torch.rand(1, 1, 572, 572)).shape
    torch.Size([1, 2, 388, 388])

What you build, module by module, in course order where the imports allow (a module imports only modules above it;
``tiling`` and ``distributed`` come early because earlier notebooks' modules use them):

==================  ========  ================================================================
module              notebook  what it holds
==================  ========  ================================================================
``runtime``         00        device, threads, precision, seeds, test mode, the checkout, atomic writes, counts
``layers``          01–04     ``double_conv``, ``max_pool``, ``up_conv``, ``center_crop``, ``grid_strength``
``model``           04–05     the size arithmetic (``size_walk``), ``receptive_field``, ``UNetModel``
``augment``         06        elastic deformation, flips, rotations, gray values
``images``          06        one image reader, the label convention, your own folders, pixel sizes
``isbi2012``        06        the paper's EM data: checksummed download or a local copy
``synthetic``       06        the built-in EM-like data, the offline stand-in; notebook 11's nuclei
``data``            06        which dataset, the split, ``normalize``, mirror padding, tiles
``losses``          07        weighted cross-entropy, the paper's weight map, Dice
``tiling``          09        overlap-tile prediction of whole images
``checkpoints``     08        atomic, validated checkpoints; the shipped model
``distributed``     10        several processes (``torchrun``): ranks, DDP, each rank's share of a batch
``batches``         08        which tiles each step uses and how they reach the device
``train``           08        recipes and the training loop ``fit``
``outputs``         08        output folders checked first and locked, no silent replacing, orderly stops
``verdicts``        08–12     better, worse or within noise: every printed comparison, from the numbers
``metrics``         09–10     pixel measures, the ISBI pixel error, the adapted Rand error, V_Rand, V_Info, thresholds
``evaluation``      09        predict, calibrate thresholds, measure, tabulate; the model 09 measures
``prediction``      09        ``predict`` on images, folders, TIFF stacks and the ISBI test set
``diagnose``        12        why it does not work: findings on data, pipeline, overfit test, checkpoints
``commands``        08–09     ``train`` and ``evaluate``: plan, run, stop, record
``export``          11        a trained U-Net as a bioimage.io model package, and running one
``cli``             08–12     ``python -m unet_lib`` train, predict, evaluate, doctor, export: options, errors
``objects``         11        objects rather than pixels: matching at IoU ≥ 0.5, counts
==================  ========  ================================================================

Course tools, which help you learn but are not part of the U-Net:

* ``viz`` — the pictures (``viz.network``, ``viz.data``, ``viz.results``);
* ``widgets`` — the interactive explorers;
* ``checks`` — the exercise checkers, which say *what* is wrong.
"""

__version__ = "0.1.0"
