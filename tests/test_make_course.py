"""`make course`: JupyterLab serves the whole checkout and opens notebook 00; as root the README says what to do."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_S = 90


def course_command() -> list[str]:
    """The `jupyter lab …` line that `make course` runs, as arguments (the recipe, not the set-up before it)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    lines = subprocess.run(["make", "-n", "course"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(line for line in lines.splitlines() if " lab " in f" {line} " and "jupyter" in line)
    return shlex.split(line)[1:]  # drop `.venv/bin/jupyter`: run this interpreter's JupyterLab instead


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_course_serves_the_checkout_and_opens_notebook_00():
    arguments = course_command()
    assert arguments[0] == "lab" and arguments[-1] == "notebooks/00_welcome.ipynb"
    assert "--ServerApp.root_dir=." in arguments


@pytest.mark.slow
def test_jupyterlab_started_like_make_course_reaches_the_readmes_the_notebooks_link(tmp_path):
    """Start it for real: the contents API reaches data/ and unet_lib/assets/; the file it opens is notebook 00."""
    port, token = free_port(), "course-test"
    extra = [f"--port={port}", f"--IdentityProvider.token={token}", "--no-browser", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        extra.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    arguments = course_command()
    command = [sys.executable, "-m", "jupyterlab", *arguments[1:-1], *extra, arguments[-1]]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_S
        while not list(tmp_path.glob("jpserver-file-to-run-*-open.html")):
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.5)
        opened = next(tmp_path.glob("jpserver-file-to-run-*-open.html")).read_text()
        assert f"localhost:{port}/lab/tree/notebooks/00_welcome.ipynb" in opened
        for path in ("data/README.md", "unet_lib/assets/README.md", "notebooks/00_welcome.ipynb"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/contents/{path}?content=0", headers={"Authorization": f"token {token}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert json.loads(response.read())["path"] == path
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root sees JupyterLab's refusal")
def test_as_root_jupyterlab_refuses_without_allow_root_and_the_readme_says_what_to_do(tmp_path):
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    arguments = course_command()
    command = [sys.executable, "-m", "jupyterlab", *arguments[1:-1], "--no-browser", f"--port={free_port()}"]
    refused = subprocess.run(command + [arguments[-1]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "--allow-root" in refused.stderr
    assert "make course LAB_ARGS=--allow-root" in (ROOT / "README.md").read_text()
