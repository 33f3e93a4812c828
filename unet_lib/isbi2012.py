"""The ISBI 2012 EM data of the U-Net paper (notebook 06): a checksummed download, or a copy you already have.

``load_isbi2012`` returns the 30 annotated slices of the ISBI 2012 challenge (serial-section TEM of the
*Drosophila* larva ventral nerve cord, Cardona et al. 2010), or its 30 unlabelled test slices. They are
downloaded once with ``pooch`` from a commit-pinned public mirror and every file is checked against its
SHA-256 (``isbi2012_sha256.txt``, shipped with this package). A folder that already holds them is only
read, never written, so a read-only class copy works. When they cannot be had, ``DataUnavailable`` says
why in a few words (``reason``) and in full.

The ISBI data may be used for non-commercial research and teaching only; see ``data/README.md``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pooch
import requests

from .images import SegmentationData, read_array
from .runtime import checkout_root

DATA_DIR_ENV = "UNET_DATA_DIR"
"""Environment variable naming the data folder; the ISBI slices live in ``$UNET_DATA_DIR/isbi2012``."""

DATA_URL_ENV = "UNET_DATA_URL"
"""Environment variable to download from another mirror laid out like ``ISBI2012_BASE_URL`` (tests use a local
server)."""

ISBI2012_COMMIT = "b45af4d458437d8281cc218a07fd4380818ece4a"
"""The commit of github.com/zhixuhao/unet whose PNG export of the ISBI 2012 stacks we download."""

ISBI2012_BASE_URL = f"https://raw.githubusercontent.com/zhixuhao/unet/{ISBI2012_COMMIT}/data/membrane/"
"""Pinned public mirror: ``train/image/{i}.png``, ``train/label/{i}.png`` and ``test/{i}.png`` for i = 0..29."""

SPLIT_FOLDERS = {"train": ("images", "labels"), "test": ("test_images",)}
"""Which subfolders of ``isbi2012/`` each split reads."""

DOWNLOAD_TIMEOUT_S = 15
"""Seconds to wait for the mirror to connect or to send the next bytes; a silent mirror fails after two tries."""

DOWNLOAD_RETRIES = 1
_CHECKSUMS_FILE = "isbi2012_sha256.txt"
_REMOTE_FOLDERS = {"images": "train/image", "labels": "train/label", "test_images": "test"}


class DataUnavailable(RuntimeError):
    """The real data cannot be had (no network, a checksum mismatch, an unwritable folder …).

    ``reason`` is a few words without paths, fit to print to learners; ``str(error)`` says
    what happened in full and what to do.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# -- where the data lives -------------------------------------------------------------------------


def data_dir() -> Path:
    """The data folder: ``$UNET_DATA_DIR``; else ``data/`` of the course checkout; else a per-user cache.

    The checkout's ``data/`` is recognised by its ``README.md``; a pip-installed ``unet_lib``
    has none and uses ``pooch.os_cache("unet-from-scratch")`` (e.g. ``~/.cache/unet-from-scratch``).
    """
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    root = checkout_root()
    if root is not None:
        return root / "data"
    return Path(pooch.os_cache("unet-from-scratch"))


def isbi2012_checksums() -> dict[str, str]:
    """``{"images/00.png": sha256, ...}`` for all 90 files, from the checksum list shipped with unet_lib."""
    text = resources.files("unet_lib").joinpath(_CHECKSUMS_FILE).read_text(encoding="utf-8")
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def isbi2012_url(name: str, base_url: str | None = None) -> str:
    """The download address of ``images/03.png`` etc. (the mirror numbers files 0..29 without padding)."""
    folder, file = name.split("/")
    base = base_url or os.environ.get(DATA_URL_ENV, "").strip() or ISBI2012_BASE_URL
    return f"{base.rstrip('/')}/{_REMOTE_FOLDERS[folder]}/{int(Path(file).stem)}.png"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _missing_or_bad(root: Path, names: Sequence[str], checksums: dict[str, str]) -> list[str]:
    return [name for name in names if not (root / name).is_file() or _sha256(root / name) != checksums[name]]


def download_isbi2012(split: str = "train", root: Path | None = None, base_url: str | None = None) -> Path:
    """Make sure every file of ``split`` is in ``<data_dir>/isbi2012`` with the right SHA-256; return that folder.

    Files already there and correct are only read. Missing or damaged ones are fetched with
    ``pooch``, which downloads to a temporary file beside the target and moves it into place
    only after its SHA-256 matched: a failed or corrupt download never leaves a partial file.
    When a damaged file cannot be replaced, ``DataUnavailable`` names it.
    """
    root = (root or data_dir()) / "isbi2012"
    checksums = isbi2012_checksums()
    names = sorted(n for n in checksums if n.split("/")[0] in _split_folders(split))
    todo = _missing_or_bad(root, names, checksums)
    if todo:
        damaged = [name for name in todo if (root / name).is_file()]
        try:
            _fetch(root, todo, checksums, base_url)
        except DataUnavailable as error:
            if not damaged:
                raise
            raise DataUnavailable(
                f"{_damaged_text(root, damaged)}, and no good copy could be had: {error}",
                reason=f"{damaged[0]} is damaged and {error.reason}",
            ) from error
    return root


def _damaged_text(root: Path, damaged: Sequence[str]) -> str:
    more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
    return (
        f"{root / damaged[0]}{more} does not match its SHA-256: the file is damaged or was changed; "
        "delete it (it is downloaded again) or copy it again from the original"
    )


def _fetch(root: Path, names: list[str], checksums: dict[str, str], base_url: str | None) -> None:
    print(
        f"Downloading {len(names)} ISBI 2012 files from the public mirror; each is checked against its SHA-256 "
        f"(a mirror that does not answer for {DOWNLOAD_TIMEOUT_S} s is given up) …"
    )
    registry = {name: f"sha256:{checksums[name]}" for name in names}
    urls = {name: isbi2012_url(name, base_url) for name in names}
    store = pooch.create(path=root, base_url="", registry=registry, urls=urls, retry_if_failed=DOWNLOAD_RETRIES)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=DOWNLOAD_TIMEOUT_S)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch's own messages name local paths; ours above do not
    folders = [root.parent, root, *sorted({root / name.split("/")[0] for name in names})]
    new_folders = [folder for folder in folders if not folder.exists()]
    try:
        for name in names:
            _fetch_one(store, name, urls[name], downloader)
    except DataUnavailable:
        for folder in reversed(new_folders):  # leave no empty folders behind either
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        logger.setLevel(level)


def _fetch_one(store: Any, name: str, url: str, downloader: Callable[..., Any]) -> None:
    """Fetch one file; turn each way it can fail into a ``DataUnavailable`` that says what to do."""
    try:
        store.fetch(name, downloader=downloader)
    except requests.exceptions.Timeout as error:  # before RequestException: it is one
        raise DataUnavailable(
            f"The mirror did not answer within {DOWNLOAD_TIMEOUT_S} s (tried {DOWNLOAD_RETRIES + 1} times) for "
            f"{name} at {url}. Try again later, set ${DATA_URL_ENV} to another mirror, or put the ISBI 2012 "
            f"slices into {store.abspath} yourself (see data/README.md).",
            reason=f"the mirror did not answer within {DOWNLOAD_TIMEOUT_S} s",
        ) from error
    except requests.exceptions.RequestException as error:  # before OSError: it is one
        offline = isinstance(error, requests.exceptions.ConnectionError)
        raise DataUnavailable(
            f"Could not download {name} from {url} ({type(error).__name__}: {error}). Check your internet "
            f"connection, or put the ISBI 2012 slices into {store.abspath} yourself (see data/README.md).",
            reason="no network" if offline else "download failed",
        ) from error
    except ValueError as error:  # pooch: hash mismatch (the temporary file is already deleted)
        raise DataUnavailable(
            f"The download of {name} from {url} failed its SHA-256 check and was discarded ({error}). "
            f"The mirror may have changed or the transfer was damaged; try again later or set ${DATA_URL_ENV} "
            "to another mirror.",
            reason="checksum mismatch",
        ) from error
    except OSError as error:  # e.g. a read-only folder that lacks some files
        raise DataUnavailable(
            f"Could not write {name} into {store.abspath} ({error}). Point ${DATA_DIR_ENV} at a writable "
            "folder, or at one that already holds the complete ISBI 2012 slices.",
            reason="the data folder is not writable",
        ) from error


def _split_folders(split: str) -> tuple[str, ...]:
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split must be one of {sorted(SPLIT_FOLDERS)}, got {split!r}")
    return SPLIT_FOLDERS[split]


def load_isbi2012(split: str = "train", download: bool = True) -> SegmentationData:
    """The ISBI 2012 slices: ``"train"`` (30 labelled, 512×512) or ``"test"`` (30 unlabelled).

    Every file is checked against its SHA-256 before use. With ``download=False`` nothing
    is fetched and missing files raise ``DataUnavailable``.
    """
    folders = _split_folders(split)
    root = data_dir() / "isbi2012"
    if download:
        download_isbi2012(split)
    else:
        checksums = isbi2012_checksums()
        wanted = sorted(n for n in checksums if n.split("/")[0] in folders)
        bad = _missing_or_bad(root, wanted, checksums)
        if bad:
            state = "damaged" if (root / bad[0]).is_file() else "missing"
            raise DataUnavailable(
                f"{len(bad)} ISBI 2012 files are missing or damaged in {root} (first: {bad[0]}, {state}); "
                "call load_isbi2012(download=True) or set $UNET_DATA_DIR to a folder that has them.",
                reason=f"{bad[0]} is {state}, download off",
            )
    names = [f"{folders[0]}/{i:02d}.png" for i in range(30)]
    images = [read_array(root / name).astype(np.float32) / 255.0 for name in names]
    labels = None
    if split == "train":
        labels = [(read_array(root / name.replace("images/", "labels/")) > 127).astype(np.uint8) for name in names]
    kind = "training slices" if split == "train" else "test slices, no public labels"
    return SegmentationData(
        images,
        labels,
        [f"isbi2012/{n}" for n in names],
        "isbi2012",
        f"ISBI 2012 {kind} (real EM data, checksums verified)",
    )
