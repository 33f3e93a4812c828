"""unet_lib: the finalized code of the U-Net from Scratch course.

Each notebook builds one piece and then imports it from here in later notebooks.
The original example keeps working::

    >>> import torch
    >>> from unet_lib.model import UNetModel
    >>> UNetModel()(torch.rand(1, 1, 572, 572)).shape
    torch.Size([1, 2, 388, 388])
"""

__version__ = "0.1.0"
