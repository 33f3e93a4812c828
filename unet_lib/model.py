"""The full U-Net (notebook 05) and the size arithmetic that goes with it (notebook 04).

With the paper's defaults, ``UNetModel()`` has 23 convolution layers and
31,030,658 parameters, and maps a 572×572 tile to a 388×388 segmentation.

Size rules (derived in notebook 04). With ``padding="valid"`` every double convolution
trims 4 pixels and every 2×2 pooling needs an even size. Counting back from a
bottleneck output of ``b`` pixels, a U-Net of depth ``d`` takes inputs

    n = 2**d · (b + 8) − 4        and returns        n − (12 · 2**d − 8) pixels,

which for the paper's ``d = 4`` reads: inputs ``16·m + 60`` (m ≥ 8), output ``input − 184``.
``size_walk`` below states it for any depth by following a size through the network;
the tests check it against the formula. With ``padding="same"`` nothing is
trimmed: inputs must be multiples of ``2**d`` and the output has the input's size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .layers import Padding, UpMode, center_crop, double_conv, max_pool, up_conv


def size_walk(input_size: int, depth: int = 4, padding: Padding = "valid") -> tuple[list[int], str | None]:
    """Follow one spatial size through the U-Net, step by step (notebook 04).

    Returns the size after every step — double convolution, pooling, …, bottleneck, then
    up-convolution and double convolution on the way up — and ``None`` if the size fits, or
    else the reason it does not: the first pooling that meets an odd size, or a map that
    shrinks to nothing. Every size question of the course (``unet_output_size``, the model's
    error messages, the size calculator, the exercise checkers) is answered by this one walk.
    """
    trim = 4 if padding == "valid" else 0
    size, sizes = input_size, [input_size]
    for level in range(1, depth + 1):  # contracting path: double conv, then 2×2 pool
        size -= trim
        sizes.append(size)
        if size < 2:
            return sizes, f"the maps shrink to nothing before pooling {level}"
        if size % 2:
            return sizes, f"pooling {level} would meet an odd size ({size} px)"
        size //= 2
        sizes.append(size)
    size -= trim  # bottleneck
    sizes.append(size)
    if size < 1:
        return sizes, "the maps shrink to nothing in the bottleneck"
    for _ in range(depth):  # expansive path: up-conv doubles, double conv trims
        size *= 2
        sizes.append(size)
        size -= trim
        sizes.append(size)
        if size < 1:
            return sizes, "the maps shrink to nothing on the way up"
    return sizes, None


def unet_output_size(input_size: int, depth: int = 4, padding: Padding = "valid") -> int | None:
    """The output size for ``input_size``: the last step of ``size_walk``, or ``None`` if it does not fit."""
    sizes, problem = size_walk(input_size, depth, padding)
    return None if problem else sizes[-1]


def valid_input_sizes(start: int, stop: int, depth: int = 4, padding: Padding = "valid") -> list[int]:
    """All input sizes in ``[start, stop]`` that the U-Net accepts."""
    return [n for n in range(max(start, 1), stop + 1) if unet_output_size(n, depth, padding) is not None]


def nearest_valid_sizes(size: int, depth: int = 4, padding: Padding = "valid") -> tuple[int | None, int]:
    """The closest accepted input sizes below and above ``size`` (each may equal it).

    Valid sizes are evenly spaced, ``2**depth`` apart, so the search is short.
    """
    step = 2**depth
    below = next((n for n in range(size, max(size - step, 0), -1) if unet_output_size(n, depth, padding)), None)
    above = max(size, 1)
    while unet_output_size(above, depth, padding) is None:
        above += 1
    return below, above


def size_rule(depth: int = 4, padding: Padding = "valid") -> str:
    """The accepted sizes in words: ``"sizes 16·m + 60 with m ≥ 8"`` for the paper's network (notebook 04)."""
    step = 2**depth
    if padding == "same":
        return f"multiples of {step}"
    smallest = valid_input_sizes(1, 16 * step, depth, padding)[0]
    if depth == 0:
        return f"sizes ≥ {smallest}"
    offset = 4 * step - 4  # n = 2^d · (b + 8) − 4 = 2^d · m + (4 · 2^d − 4) with m = b + 4
    return f"sizes {step}·m + {offset} with m ≥ {(smallest - offset) // step}"


def describe_input_size(size: int, depth: int = 4, padding: Padding = "valid") -> str:
    """One sentence about an input size: what comes out, or why it does not fit and what to use instead.

    The model's error (``UNetModel.check_input``), the size calculator (notebook 04) and the
    command line all say this sentence, so one failure is always explained the same way.

    >>> describe_input_size(572)
    '572 × 572 fits: the output is 388 × 388 (92 px lost per side).'
    """
    sizes, problem = size_walk(size, depth, padding)
    if problem is None:
        out = sizes[-1]
        lost = f"{(size - out) // 2} px lost per side" if out != size else "same size"
        return f"{size} × {size} fits: the output is {out} × {out} ({lost})."
    options = [n for n in nearest_valid_sizes(size, depth, padding) if n is not None]
    outputs = " and ".join(str(unet_output_size(n, depth, padding)) for n in options)
    return (
        f"{size} does not fit a depth-{depth} U-Net with {padding} padding ({size_rule(depth, padding)}): "
        f"{problem}. Use {' or '.join(map(str, options))} (output{'s' if len(options) > 1 else ''} {outputs})."
    )


def _check_size_arguments(depth: int, padding: str) -> None:
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be a whole number ≥ 0, got {depth!r}")
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


MAX_DEPTH = 12
"""The deepest U-Net ``UNetModel`` builds: a valid depth-12 U-Net already needs input tiles of 49,148 px."""

MAX_PARAMETERS = 250_000_000
"""The largest U-Net ``UNetModel`` builds: 1 GB of float32 weights, eight times the paper's network.

Checked from the configuration *before* any layer is allocated, so that a typo (``depth=20``) or a
checkpoint file whose config asks for a giant network ends in a clear error, not in the out-of-memory killer.
"""


def count_config_parameters(
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 4,
    batch_norm: bool = False,
    up_mode: str = "transpose",
) -> int:
    """The number of parameters ``UNetModel`` would have, computed from its configuration without building it.

    Counted block by block as ``UNetModel.__init__`` builds them (the tests compare it with
    ``count_parameters`` of the built model): 3×3 convolutions, batch-norm scales and shifts,
    up-convolutions, the 1×1 head.
    """

    def block(c_in: int, c_out: int) -> int:  # double_conv: bias or batch norm (scale + shift) per conv
        return 9 * c_in * c_out + 9 * c_out * c_out + (4 * c_out if batch_norm else 2 * c_out)

    widths = [base_channels * 2**level for level in range(depth + 1)]
    kernel = 4 if up_mode == "transpose" else 1
    total = sum(block(c_in, c_out) for c_in, c_out in zip([in_channels] + widths, widths))
    total += sum(
        kernel * widths[lv + 1] * widths[lv] + widths[lv] + block(2 * widths[lv], widths[lv]) for lv in range(depth)
    )
    return total + widths[0] * num_classes + num_classes


def check_config(
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 4,
    padding: str = "valid",
    batch_norm: bool = False,
    up_mode: str = "transpose",
    dropout: float = 0.0,
) -> None:
    """Raise a ``ValueError`` that names the problem if ``UNetModel(**config)`` cannot or should not be built.

    Types and ranges first, then the size: at most ``MAX_DEPTH`` poolings and ``MAX_PARAMETERS``
    parameters. ``UNetModel`` and ``unet_lib.checkpoints`` call it before allocating anything.
    """
    for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("base_channels", base_channels)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
    if isinstance(depth, bool):
        raise ValueError(f"depth must be a whole number ≥ 0, got {depth!r}")
    _check_size_arguments(depth, padding)
    if depth > MAX_DEPTH:
        raise ValueError(
            f"depth {depth} is more than the {MAX_DEPTH} poolings a U-Net here may have (the paper uses 4); "
            f"use a depth of at most {MAX_DEPTH}"
        )
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
    if up_mode not in ("transpose", "bilinear", "nearest"):
        raise ValueError(f"up mode must be 'transpose', 'bilinear' or 'nearest', got {up_mode!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    parameters = count_config_parameters(in_channels, num_classes, base_channels, depth, batch_norm, up_mode)
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"a U-Net with {base_channels} base channels and depth {depth} would have {parameters:,} parameters, "
            f"more than the {MAX_PARAMETERS:,} allowed here (the paper's has 31,030,658); use fewer base channels "
            "or a smaller depth"
        )


def feature_map_elements(
    input_size: int,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 4,
    padding: Padding = "valid",
) -> int:
    """How many values the feature maps of one forward pass hold for one ``input_size`` tile.

    Every convolution's, pooling's and up-convolution's output, counted from the size rule
    (the tests count them with hooks on a real forward pass). Training keeps them for the
    backward pass, so memory grows with this number times the batch size; the command line
    uses it to refuse a recipe that cannot fit into the machine's memory before it allocates anything.
    """
    if unet_output_size(input_size, depth, padding) is None:
        raise ValueError(describe_input_size(input_size, depth, padding))
    trim = 2 if padding == "valid" else 0  # per 3×3 convolution
    widths = [base_channels * 2**level for level in range(depth + 1)]

    def double(channels: int, size: int) -> int:
        return channels * (size - trim) ** 2 + channels * (size - 2 * trim) ** 2

    total, size = 0, input_size
    for level in range(depth):  # contracting path: two convolutions, then the pooling
        total += double(widths[level], size)
        size = (size - 2 * trim) // 2
        total += widths[level] * size**2
    total += double(widths[depth], size)  # bottleneck
    size -= 2 * trim
    for level in reversed(range(depth)):  # expansive path: up-convolution, then two convolutions
        size *= 2
        total += widths[level] * size**2 + double(widths[level], size)
        size -= 2 * trim
    return total + num_classes * size**2


class UNetModel(nn.Module):
    """The U-Net of Ronneberger, Fischer & Brox (2015), built from ``unet_lib.layers``.

    The defaults are the paper's network: 1 input channel, 2 classes, 64 channels at
    the top doubling to 1024 at the bottom (depth 4), unpadded convolutions, no batch
    norm, learned 2×2 up-convolutions. ``dropout`` is the paper's drop-out at the end
    of the contracting path; the paper gives no rate, so it is off by default.

    Every layer is created here in ``__init__``: a layer created in ``forward`` would
    be re-initialised at every call, never trained, and missing from ``state_dict``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        padding: Padding = "valid",
        batch_norm: bool = False,
        up_mode: UpMode = "transpose",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_config(in_channels, num_classes, base_channels, depth, padding, batch_norm, up_mode, dropout)
        self.config: dict[str, Any] = dict(
            in_channels=in_channels,
            num_classes=num_classes,
            base_channels=base_channels,
            depth=depth,
            padding=padding,
            batch_norm=batch_norm,
            up_mode=up_mode,
            dropout=dropout,
        )
        self.in_channels, self.num_classes, self.depth, self.padding = in_channels, num_classes, depth, padding
        widths = [base_channels * 2**level for level in range(depth + 1)]  # 64, 128, 256, 512, 1024

        self.down_convs = nn.ModuleList(
            double_conv(c_in, c_out, padding, batch_norm) for c_in, c_out in zip([in_channels] + widths, widths)
        )  # depth + 1 blocks; the last one is the bottleneck
        self.pool = max_pool()
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.up_convs = nn.ModuleList(
            up_conv(widths[level + 1], widths[level], up_mode) for level in reversed(range(depth))
        )
        self.up_double_convs = nn.ModuleList(
            double_conv(2 * widths[level], widths[level], padding, batch_norm) for level in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation, as in the paper: weights ~ N(0, 2/N), N = inputs per unit, biases 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_channels, H, W)`` images to ``(N, num_classes, H', W')`` class scores (logits)."""
        self.check_input(x)
        skips = []
        for down_conv in self.down_convs[:-1]:  # contracting path
            x = down_conv(x)
            skips.append(x)
            x = self.pool(x)
        x = self.dropout(self.down_convs[-1](x))  # bottleneck, then the paper's drop-out
        for up, up_double_conv, skip in zip(self.up_convs, self.up_double_convs, reversed(skips)):  # expansive path
            x = up(x)
            x = torch.cat([center_crop(skip, x.shape[-2:]), x], dim=1)  # crop computed from the shapes
            x = up_double_conv(x)
        return self.head(x)

    # -- the learner's size questions -------------------------------------------------
    def output_size(self, input_size: int) -> int:
        """Output height (or width) for an input height (or width); ``ValueError`` if it does not fit."""
        out = unet_output_size(input_size, self.depth, self.padding)
        if out is None:
            raise ValueError(describe_input_size(input_size, self.depth, self.padding))
        return out

    def is_valid_input_size(self, input_size: int) -> bool:
        return unet_output_size(input_size, self.depth, self.padding) is not None

    def valid_input_sizes(self, start: int, stop: int) -> list[int]:
        """Accepted input sizes in ``[start, stop]``."""
        return valid_input_sizes(start, stop, self.depth, self.padding)

    def nearest_valid_sizes(self, size: int) -> tuple[int | None, int]:
        """The closest accepted input sizes below and above ``size``."""
        return nearest_valid_sizes(size, self.depth, self.padding)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error for input the network cannot take, before any computation."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"UNetModel expects a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4:
            hint = " (add a batch dimension with x.unsqueeze(0))" if x.ndim == 3 else ""
            raise ValueError(
                f"UNetModel expects a 4-D tensor (batch, channels, height, width), got shape {tuple(x.shape)}{hint}"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"UNetModel expects a floating-point tensor, got {x.dtype} "
                "(convert with x.float(), e.g. x.float() / 255)"
            )
        if x.dtype == torch.float64 and self.head.weight.dtype != torch.float64:
            raise TypeError(
                "UNetModel got a float64 tensor (NumPy's default) but its weights are float32: convert with x.float()"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"x.shape[1] is {x.shape[1]} (shape {tuple(x.shape)}), but this UNetModel takes in_channels="
                f"{self.in_channels}"
            )
        for name, size in zip(("height", "width"), x.shape[-2:]):
            if not self.is_valid_input_size(size):
                raise ValueError(f"input {name} {size}: " + describe_input_size(size, self.depth, self.padding))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (31,030,658 for the paper's U-Net)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_conv_layers(model: nn.Module) -> int:
    """Number of convolution layers, transposed ones included (23 for the paper's U-Net)."""
    return sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def receptive_field(model: UNetModel, input_size: int, rows: list[int] | None = None) -> list[tuple[int, int]]:
    """The first and last input row that each output row can see, for an ``input_size``-high input (notebook 04).

    Measured with the gradient: an input pixel can change an output pixel exactly where the
    gradient of that output pixel is non-zero. The measurement runs on a *probe*, the same
    layers with one channel per map, positive weights and average pooling in place of max
    pooling: the same windows, but a max pooling passes the gradient only to the winner of
    each window, so one input would show only the pixels that won. Width does not change
    what a pixel sees. Rows and columns behave alike: the receptive field is the square
    these rows give. ``rows`` picks output rows (default: all of them).
    """
    probe = UNetModel(**{**model.config, "base_channels": 1, "batch_norm": False, "dropout": 0.0}).eval()
    probe.pool = nn.AvgPool2d(kernel_size=2, stride=2)
    with torch.no_grad():
        for name, parameter in probe.named_parameters():
            parameter.fill_(1.0 / parameter[0].numel() if name.endswith("weight") else 0.0)
    width = nearest_valid_sizes(1, probe.depth, probe.padding)[1]  # columns: as few as the network takes
    rows = list(range(probe.output_size(input_size))) if rows is None else list(rows)
    field = []
    for start in range(0, len(rows), 16):  # 16 output rows per pass: one copy of the input for each
        batch = rows[start : start + 16]
        x = torch.ones(len(batch), probe.in_channels, input_size, width, requires_grad=True)
        scores = probe(x)[:, 0]
        picked = scores[torch.arange(len(batch)), torch.tensor(batch), scores.shape[-1] // 2]  # copy i: row batch[i]
        (gradient,) = torch.autograd.grad(picked.sum(), x)
        for seen in gradient.sum(dim=(1, 3)) > 0:  # per copy: the input rows with a non-zero gradient
            where = torch.nonzero(seen).flatten()
            field.append((int(where[0]), int(where[-1])))
    return field
