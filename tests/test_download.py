"""The ISBI 2012 download path, against a local HTTP server on 127.0.0.1 — never the real internet.

The server mirrors the layout of the public mirror (``train/image/{i}.png`` …). Its files are
small generated PNGs whose SHA-256s replace the shipped checksum list for the test, so these
tests run anywhere; one more test serves the real slices when ``../shared/data`` is present.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import stat
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unet_lib import isbi2012
from unet_lib.data import load_dataset
from unet_lib.isbi2012 import DataUnavailable, isbi2012_checksums, isbi2012_url, load_isbi2012

# -- safety: nothing in this file may leave the machine ------------------------------------------------

_real_getaddrinfo = socket.getaddrinfo


def _local_only(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost"):
        raise socket.gaierror(f"test blocked a lookup of {host!r}: tests never contact the internet")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _local_only)


# -- a record of every write below a watched folder (works even for root, who ignores chmod) -----------

_WATCHED: list[str] = []
_WRITES: list[tuple[str, str]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_WRITE_EVENTS = {
    "os.mkdir",
    "os.rename",
    "os.replace",
    "os.remove",
    "os.rmdir",
    "os.chmod",
    "os.truncate",
    "os.link",
    "os.symlink",
    "shutil.move",
}


def _audit(event: str, args: tuple) -> None:
    if not _WATCHED:
        return
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
    elif event in _WRITE_EVENTS:
        path, writing = args[0], True
    else:
        return
    if writing and isinstance(path, (str, bytes, os.PathLike)):
        target = os.path.abspath(os.fsdecode(path))
        if any(target.startswith(root) for root in _WATCHED):
            _WRITES.append((event, target))


sys.addaudithook(_audit)


@pytest.fixture
def watch_writes():
    def start(folder: Path) -> list[tuple[str, str]]:
        _WATCHED.append(os.path.abspath(folder))
        return _WRITES

    yield start
    _WATCHED.clear()
    _WRITES.clear()


# -- a local mirror ------------------------------------------------------------------------------------


def fake_slices(folder: Path) -> None:
    """90 small PNGs in the data-folder layout (``images/00.png`` …)."""
    rng = np.random.default_rng(0)
    for sub in ("images", "labels", "test_images"):
        (folder / sub).mkdir(parents=True)
        for i in range(30):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(np.where(pixels > 60, 255, 0).astype(np.uint8) if sub == "labels" else pixels).save(
                folder / sub / f"{i:02d}.png"
            )


def checksums_of(folder: Path) -> dict[str, str]:
    return {
        f"{p.parent.name}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*/*.png"))
    }


def mirror_layout(slices: Path, site: Path) -> None:
    """Copy slices into the public mirror's layout: ``images/03.png`` → ``train/image/3.png``."""
    for name in checksums_of(slices):
        url_path = isbi2012_url(name, base_url="http://x/").removeprefix("http://x/")
        (site / url_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(slices / name, site / url_path)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[str] = []

    def log_message(self, *args) -> None:
        QuietHandler.requests_seen.append(self.path)


@pytest.fixture
def serve():
    servers = []

    def start(site: Path) -> str:
        QuietHandler.requests_seen = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_mirror(tmp_path, monkeypatch):
    """(site folder, slices folder) with checksums swapped in for the fake slices."""
    slices, site = tmp_path / "slices", tmp_path / "site"
    fake_slices(slices)
    mirror_layout(slices, site)
    monkeypatch.setattr(isbi2012, "isbi2012_checksums", lambda: checksums_of(slices))
    return site, slices


def use(monkeypatch, data_dir: Path, url: str) -> None:
    monkeypatch.setenv("UNET_DATA_DIR", str(data_dir))
    monkeypatch.setenv("UNET_DATA_URL", url)


# -- tests ---------------------------------------------------------------------------------------------


def test_download_verifies_and_loads_then_reuses_the_files(fake_mirror, serve, tmp_path, monkeypatch, capsys):
    site, slices = fake_mirror
    use(monkeypatch, tmp_path / "cache", serve(site))
    train = load_isbi2012("train")
    assert len(train) == 30 and train.images[0].shape == (8, 8) and len(QuietHandler.requests_seen) == 60
    assert (tmp_path / "cache" / "isbi2012" / "labels" / "29.png").read_bytes() == (
        slices / "labels" / "29.png"
    ).read_bytes()
    out = capsys.readouterr().out
    assert "Downloading 60 ISBI 2012 files" in out and str(tmp_path) not in out
    load_isbi2012("train")
    assert len(QuietHandler.requests_seen) == 60, "files already verified must not be fetched again"
    assert len(load_isbi2012("test")) == 30 and len(QuietHandler.requests_seen) == 90


def test_corrupt_file_is_rejected_and_leaves_nothing_behind(fake_mirror, serve, tmp_path, monkeypatch):
    site, _ = fake_mirror
    damaged = site / "train" / "image" / "3.png"
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\x00")
    use(monkeypatch, tmp_path / "cache", serve(site))
    with pytest.raises(DataUnavailable, match="SHA-256") as caught:
        load_isbi2012("train")
    assert caught.value.reason == "checksum mismatch" and "images/03.png" in str(caught.value)
    images = tmp_path / "cache" / "isbi2012" / "images"
    assert sorted(p.name for p in images.iterdir()) == ["00.png", "01.png", "02.png"], (
        "no partial or temporary file may remain"
    )


def test_damaged_local_file_is_replaced_by_a_verified_download(fake_mirror, serve, tmp_path, monkeypatch):
    site, slices = fake_mirror
    cache = tmp_path / "cache" / "isbi2012"
    shutil.copytree(slices, cache)
    (cache / "images" / "07.png").write_bytes(b"damaged")
    use(monkeypatch, tmp_path / "cache", serve(site))
    load_isbi2012("train")
    assert QuietHandler.requests_seen == ["/train/image/7.png"]
    assert (cache / "images" / "07.png").read_bytes() == (slices / "images" / "07.png").read_bytes()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_no_network_gives_a_clear_error_and_the_built_in_data(fake_mirror, tmp_path, monkeypatch, capsys):
    use(monkeypatch, tmp_path / "cache", f"http://127.0.0.1:{closed_port()}/")
    monkeypatch.setattr(isbi2012, "DOWNLOAD_RETRIES", 0)
    with pytest.raises(DataUnavailable, match="internet connection") as caught:
        load_isbi2012("train")
    assert caught.value.reason == "no network"
    capsys.readouterr()
    fallback = load_dataset("isbi2012")
    out = capsys.readouterr().out
    assert fallback.source == "synthetic" and len(fallback) == 30
    assert "built-in synthetic EM-like data (no network)" in out and str(tmp_path) not in out
    assert not (tmp_path / "cache").exists(), "a failed download leaves no files and no empty folders"


def test_download_off_reports_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match="missing") as caught:
        load_isbi2012("train", download=False)
    assert caught.value.reason == "images/00.png is missing, download off"  # names the first file
    assert not (tmp_path / "isbi2012").exists()


def test_prepopulated_read_only_folder_loads_without_any_write(fake_mirror, tmp_path, monkeypatch, watch_writes):
    _, slices = fake_mirror
    folder = tmp_path / "readonly"
    shutil.copytree(slices, folder / "isbi2012")
    for path in sorted(folder.rglob("*"), reverse=True) + [folder]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    monkeypatch.setenv("UNET_DATA_DIR", str(folder))
    monkeypatch.setenv("UNET_DATA_URL", f"http://127.0.0.1:{closed_port()}/")
    writes = watch_writes(folder)
    try:
        assert len(load_isbi2012("train")) == 30 and len(load_isbi2012("test")) == 30
        assert load_dataset("isbi2012", verbose=False).source == "isbi2012"
        assert writes == []
    finally:
        _WATCHED.clear()
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_the_write_watch_would_notice_a_write(tmp_path, watch_writes):
    writes = watch_writes(tmp_path)
    (tmp_path / "x.txt").write_text("hello")
    assert writes and writes[0][1].endswith("x.txt")


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "isbi2012" / "SHA256SUMS").is_file(), reason="needs ../shared/data")
def test_real_slices_through_the_real_checksums(serve, tmp_path, monkeypatch, watch_writes):
    """Serve the real slices in the mirror's layout: the shipped checksums accept every one."""
    assert (SHARED / "isbi2012" / "SHA256SUMS").read_text() == isbi2012.resources.files("unet_lib").joinpath(
        "isbi2012_sha256.txt"
    ).read_text()
    site = tmp_path / "site"
    mirror_layout(SHARED / "isbi2012", site)
    use(monkeypatch, tmp_path / "cache", serve(site))
    downloaded = load_isbi2012("train")
    monkeypatch.setenv("UNET_DATA_DIR", str(SHARED))
    writes = watch_writes(SHARED)
    shared = load_isbi2012("train")  # the read-only shared copy: read, never written
    assert writes == []
    assert all(np.array_equal(a, b) for a, b in zip(downloaded.images, shared.images))
    assert all(np.array_equal(a, b) for a, b in zip(downloaded.labels, shared.labels))


def test_urls_follow_the_pinned_mirror():
    base = "https://raw.githubusercontent.com/zhixuhao/unet/b45af4d458437d8281cc218a07fd4380818ece4a/data/membrane/"
    assert isbi2012_url("images/03.png", base_url=None).startswith("http")
    assert isbi2012_url("images/03.png", base_url=base) == base + "train/image/3.png"
    assert isbi2012_url("labels/29.png", base_url=base) == base + "train/label/29.png"
    assert isbi2012_url("test_images/00.png", base_url=base) == base + "test/0.png"
    assert isbi2012.ISBI2012_BASE_URL == base


def test_shipped_checksums_cover_all_ninety_files():
    sums = isbi2012_checksums()
    assert len(sums) == 90 and all(len(v) == 64 for v in sums.values())
    assert sums["images/00.png"] == "12c0ed6f42fc09f512abf6b354f217c950e4c8223b57a0315449b62a14556523"
    assert sums["test_images/29.png"] == "e417ddbdcfed6b08b1c97d5a7796ed5b167ccc4caaf1226dc41dbb69cd724e25"
