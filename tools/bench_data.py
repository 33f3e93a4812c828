"""Time the data pipeline against its budgets (issue 3): synthetic data, weight maps, augmented tiles.

    python tools/bench_data.py            # uses $UNET_DATA_DIR (or the built-in data when the ISBI slices are absent)

Budgets on a quiet 2-core machine: 30 synthetic 512² slices ≤ 5 s, weight maps for all 30 slices ≤ 10 s,
one augmented 572² training tile ≤ 50 ms. Each figure is the median of a few repeats.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from unet_lib.data import TileDataset
from unet_lib.isbi2012 import DataUnavailable, load_isbi2012
from unet_lib.losses import weight_map, weight_maps
from unet_lib.synthetic import make_synthetic_em


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    try:
        data, name = load_isbi2012("train", download=False), "ISBI 2012"
    except DataUnavailable:
        data, name = make_synthetic_em(), "built-in synthetic"
    load = median_seconds(lambda: load_isbi2012("train", download=False), 3) if name == "ISBI 2012" else float("nan")
    synthetic = median_seconds(lambda: make_synthetic_em(30, 512, seed=0), 3)
    maps = median_seconds(lambda: [weight_map(label) for label in data.labels], 3)
    tiles = TileDataset(data, 572, 388, num_tiles=1000, augment=True, weight_maps=weight_maps(data.labels), seed=0)
    tiles[0]  # warm-up
    tile = median_seconds(lambda: [tiles[i] for i in range(20)], 3) / 20
    plain = TileDataset(data, input_size=572, output_size=388, num_tiles=1000, augment=False, seed=0)
    plain_tile = median_seconds(lambda: [plain[i] for i in range(20)], 3) / 20
    print(f"data: {name}")
    print(f"load 30 ISBI slices with SHA-256 checks   {load:7.2f} s")
    print(f"30 synthetic slices 512²                  {synthetic:7.2f} s   (budget 5 s)")
    print(f"weight maps for 30 slices                 {maps:7.2f} s   (budget 10 s)")
    print(f"one augmented 572² tile (x, y, w)         {tile * 1000:7.1f} ms  (budget 50 ms)")
    print(f"one plain 572² tile                       {plain_tile * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
