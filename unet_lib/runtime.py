"""Where and how the code runs: device, threads, seeds, the test-mode knob and atomic writes (notebook 00),
the precision policy (05).

Every notebook starts with ``runtime.setup_notebook()`` so that results are
reproducible and a GPU (CUDA or Apple MPS) is used when there is one.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

FAST_ENV = "UNET_FAST"
"""Set ``UNET_FAST=1`` to shorten training and silence progress bars (the test suite does)."""


def checkout_root() -> Path | None:
    """The course checkout that unet_lib runs from, or ``None`` when it is pip-installed (Colab, site-packages).

    A checkout has ``pyproject.toml`` and ``data/README.md`` beside the ``unet_lib`` folder; its
    ``data/`` holds downloads and its ``runs/`` training runs, both git-ignored.
    """
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "data" / "README.md").is_file() else None


def fast_mode() -> bool:
    """True under test (``UNET_FAST=1``): notebooks then train for seconds, not minutes."""
    return os.environ.get(FAST_ENV, "") not in ("", "0")


def fast_mode_note(shortened: str) -> str:
    """The one warning every notebook prints when fast mode shortened its work; ``""`` outside fast mode.

    ``shortened`` says what was cut, e.g. ``"training ran 4 steps instead of 2½ minutes"``.
    Under test the notebooks run in seconds, so numbers and pictures that depend on a long
    run mean nothing there; this sentence says so, the same way in every notebook.
    """
    if not fast_mode():
        return ""
    return (
        f"⚠ Fast mode ({FAST_ENV}=1, as in the tests): {shortened}, so the numbers and pictures that "
        f"follow say nothing about the real run. Unset {FAST_ENV} and run the notebook again to see it."
    )


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple MPS, else the CPU; ``prefer`` (e.g. ``"cpu"``) overrides."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so that every run gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def where_running() -> str:
    """``"Colab"``, ``"Binder"`` or ``"local"``: where this kernel runs, which decides how to fix a widget that does
    not draw (``widget_help``).

    Colab imports ``google.colab`` into every kernel before the first cell (the setup cell asks the same
    question); BinderHub sets ``BINDER_*`` variables (e.g. ``BINDER_LAUNCH_HOST``) in the sessions it starts.
    """
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "Colab"
    if any(name.startswith("BINDER_") for name in os.environ):
        return "Binder"
    return "local"


WIDGET_HELP = {
    "Colab": "Colab draws ipywidgets 7, the version it ships: do not upgrade ipywidgets. "
    "If a slider is missing, choose Runtime → Restart session, then Run all.",
    "Binder": "Binder's JupyterLab has the widget extension: reload the browser tab, then Run all.",
    "local": "In JupyterLab, ipywidgets and jupyterlab_widgets must be installed where `jupyter lab` runs "
    "(`make course` does it): install them there, restart JupyterLab and reload the page. "
    "VS Code and Jupyter Notebook 7 draw widgets too.",
}
"""What to do when a widget does not draw, by ``where_running()``. Everywhere: a static view of a notebook
(GitHub, nbviewer, the HTML export) shows no widgets at all; open it in Jupyter or Colab and run it."""


def widget_help(where: str | None = None) -> str:
    """One or two sentences on what to do when a widget does not draw here (or on ``where``)."""
    return WIDGET_HELP[where or where_running()]


def processor() -> str:
    """The processor's name and the widest vector instructions PyTorch uses on it, e.g. "AMD EPYC (AVX512)".

    Runs are recorded with it because the speed of a run, and whether bf16 pays (``choose_precision``),
    depend on the processor more than on anything else.
    """
    return f"{processor_name()} ({torch.backends.cpu.get_cpu_capability()})"


def processor_name() -> str:
    """The processor's model name as Linux reports it, else what Python's ``platform`` knows."""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment_report() -> dict[str, str]:
    """Where the course runs, versions and hardware, for notebook 00's environment check."""
    return {
        "runs on": where_running(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": version("matplotlib"),
        "ipywidgets": version("ipywidgets"),
        "device": str(pick_device()),
        "cpu threads": decide_threads().describe(),
    }


def setup_notebook(seed: int = 0) -> torch.device:
    """Seed everything, use the CPU threads granted, colour-blind-safe plot defaults; return the device to use.

    It prints where the notebook runs (processor, threads and why, device, precision policy), because every
    number and verdict a notebook prints depends on it, and stored outputs must say where they were made.
    """
    import matplotlib as mpl

    seed_everything(seed)
    threads = use_granted_threads()
    mpl.rcParams.update({"image.cmap": "gray", "figure.dpi": 80, "axes.prop_cycle": mpl.cycler(color=OKABE_ITO)})
    device = pick_device()
    print(f"Running on {processor()}, {threads.describe()}; device {device}; {precision_policy()}")
    return device


def precision_policy() -> str:
    """What precision runs will use: forced by ``$UNET_PRECISION``, or measured per workload (``auto``)."""
    forced = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if forced != "auto":
        return f"precision {forced} (set by {PRECISION_ENV})"
    return "precision auto (each training or prediction run says what it measured)"


# -- Threads: as many as the CPU actually granted (notebook 00, the instructor guide) -----------------------------
# PyTorch starts one thread per core it can see. In a container (a JupyterHub, a Binder pod) it sees every core of
# the node, while the CPU the kernel may use is capped by a cgroup quota: thirty kernels then run thirty times too
# many threads, and each step takes many times longer than it would with a fair share. So the course decides the
# thread count from every limit it can read, and says which one decided.

THREADS_ENV = "UNET_THREADS"
"""Set ``UNET_THREADS=N`` to cap the threads of every run (``OMP_NUM_THREADS`` is honoured as well)."""

THREAD_SETTINGS = ("requested", THREADS_ENV, "OMP_NUM_THREADS")
"""Limits that are settings (a number of threads asked for), most explicit first; the others are CPUs granted."""


@dataclass(frozen=True)
class ThreadDecision:
    """The threads to use and the limits they came from (``limits`` maps a source to the CPUs it allows)."""

    threads: int
    limits: dict[str, float]

    @property
    def decided_by(self) -> str:
        """The source of the smallest limit, e.g. ``"cgroup CPU quota"``."""
        return min(self.limits, key=self.limits.get)

    def describe(self) -> str:
        """E.g. ``"2 threads (cgroup CPU quota 2.5 CPUs; CPU affinity 16 CPUs; cores seen 16 CPUs)"``: the smallest
        limit first, the one that decided."""
        parts = [
            f"{name} {value:g}" if name in THREAD_SETTINGS else f"{name} {_cpus(value)}"
            for name, value in sorted(self.limits.items(), key=lambda kv: kv[1])
        ]
        return f"{plural(self.threads, 'thread')} ({'; '.join(parts)})"


def _cpus(value: float) -> str:
    return plural(value, "CPU")


def plural(count: float, noun: str, many: str | None = None) -> str:
    """``"1 image"``, ``"1,103 steps"``, ``"2.5 minutes"``: a count with its noun, the one way every printed line
    writes one (``many`` where adding an s is wrong)."""
    number = f"{int(count):,}" if float(count).is_integer() else f"{count:g}"
    return f"{number} {noun if count == 1 else many or noun + 's'}"


def every(count: int, noun: str) -> str:
    """``"the one image"``, ``"both images"``, ``"all 3 images"``: the whole of a set, said as a person says it
    (the doctor wrote "all 2 images")."""
    return {1: f"the one {noun}", 2: f"both {noun}s"}.get(count, f"all {plural(count, noun)}")


def the(count: int, noun: str) -> str:
    """``"the one image"``, ``"the 3 images"``: a known set by its size (``evaluate``'s and the doctor's "the images
    it did not train on"; one wrote "the one image", the other "1 image")."""
    return f"the one {noun}" if count == 1 else f"the {plural(count, noun)}"


def name_list(names: Sequence[object], most: int = 3) -> str:
    """``"a.png, b.png, c.png and 4 more"``: the first ``most`` of ``names``, then how many are left unnamed. The
    one way every message names files, slices or weights, so that a folder of 500 bad files stays one line."""
    shown = ", ".join(map(str, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def cgroup_cpu_quota(
    cgroup_root: str | Path = "/sys/fs/cgroup", proc_cgroup: str | Path = "/proc/self/cgroup"
) -> float | None:
    """The CPUs a cgroup quota grants this process (e.g. 1.5), or ``None`` when no quota applies.

    cgroup v2 writes ``"150000 100000"`` (quota, period in µs) or ``"max 100000"`` in ``cpu.max``; v1 writes the
    two numbers in ``cpu.cfs_quota_us`` (-1: none) and ``cpu.cfs_period_us``. The process's own cgroup and each of
    its parents may set one; the smallest counts.
    """
    root = Path(cgroup_root)
    quotas = [q for folder in _cgroup_folders(root, Path(proc_cgroup)) if (q := _quota_in(folder)) is not None]
    return min(quotas) if quotas else None


def cgroup_memory_limit(
    cgroup_root: str | Path = "/sys/fs/cgroup", proc_cgroup: str | Path = "/proc/self/cgroup"
) -> int | None:
    """The bytes of memory a cgroup limit grants this process (a Binder pod: about 2 GB), or ``None`` when none
    applies. The pre-class check counts kernels by it: a hub pod sees the whole node's memory but may use only this.

    cgroup v2 writes the bytes or ``"max"`` in ``memory.max``; v1 writes ``memory.limit_in_bytes``, a number near
    2⁶³ when there is no limit. The process's own cgroup and each of its parents may set one; the smallest counts.
    """
    root = Path(cgroup_root)
    limits = []
    for folder in _cgroup_folders(root, Path(proc_cgroup), "memory"):
        for name in ("memory.max", "memory.limit_in_bytes"):
            with suppress(OSError, ValueError):
                value = int((folder / name).read_text())
                if 0 < value < 2**60:
                    limits.append(value)
    return min(limits) if limits else None


def _cgroup_folders(root: Path, proc_cgroup: Path, controller: str = "cpu") -> list[Path]:
    """The folders that may hold this process's limits of ``controller`` (``cpu``, ``memory``): its cgroup (v2, v1)
    and every parent."""
    relative: list[str] = []
    with suppress(OSError):
        for line in proc_cgroup.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "" or controller in controllers.split(","):
                relative.append(path.strip("/"))
    folders = []
    v1 = (root / "cpu", root / "cpu,cpuacct") if controller == "cpu" else (root / controller,)
    for base in (root, *v1):
        for path in relative or [""]:
            folder = base / path
            while True:
                folders.append(folder)
                if folder == base:
                    break
                folder = folder.parent
    return list(dict.fromkeys(folders))


def _quota_in(folder: Path) -> float | None:
    with suppress(OSError, ValueError):
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    with suppress(OSError, ValueError):
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def decide_threads(
    explicit: int | None = None,
    *,
    processes: int | None = None,
    environ: dict[str, str] | None = None,
    quota: float | None | str = "read",
    affinity: int | None = None,
    cores: int | None = None,
) -> ThreadDecision:
    """The thread count: what the machine grants this process, capped by the setting asked for; rounded down, at
    least 1.

    The machine grants the smallest of the cores seen, the affinity mask and the cgroup quota; ``processes`` that
    share it (``$LOCAL_WORLD_SIZE``, which ``torchrun`` sets: notebook 10) get an equal share each. The setting is
    the most explicit one given: ``explicit`` (``--threads``), else ``$UNET_THREADS``, else ``$OMP_NUM_THREADS``;
    one overrides the next, because ``torchrun`` sets ``OMP_NUM_THREADS=1`` in every process it starts unless you
    set it, and ``--threads`` must still be able to use the share. The keyword arguments replace what would be read
    from this machine (for tests). On ties the more specific limit is named as the one that decided.
    """
    environ = os.environ if environ is None else environ
    machine: dict[str, float] = {}
    granted = cgroup_cpu_quota() if quota == "read" else quota
    if granted is not None:
        machine["cgroup CPU quota"] = float(granted)
    if affinity is None and hasattr(os, "sched_getaffinity"):
        affinity = len(os.sched_getaffinity(0))
    if affinity:
        machine["CPU affinity"] = float(affinity)
    machine["cores seen"] = float(cores or os.cpu_count() or 1)
    limits = _thread_setting(explicit, environ)
    if processes is None:
        with suppress(ValueError):
            processes = int(environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    if processes and processes > 1:
        limits[f"share of {processes} processes"] = min(machine.values()) / processes
    limits |= machine
    return ThreadDecision(max(1, int(min(limits.values()))), limits)


def _thread_setting(explicit: int | None, environ: dict[str, str]) -> dict[str, float]:
    """``{source: threads}`` of the most explicit thread setting given (``--threads``, ``UNET_THREADS``, ``OMP_…``)."""
    if explicit is not None:
        if explicit < 1:
            raise ValueError(f"threads must be at least 1, got {explicit}")
        return {"requested": float(explicit)}
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        with suppress(ValueError):
            if int(environ.get(name, "0") or 0) > 0:
                return {name: float(int(environ[name]))}
    return {}


def use_granted_threads(explicit: int | None = None) -> ThreadDecision:
    """Decide the thread count (``decide_threads``) and give it to PyTorch; returns the decision, to print."""
    decision = decide_threads(explicit)
    if torch.get_num_threads() != decision.threads:
        torch.set_num_threads(decision.threads)
    return decision


OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
"""The Okabe–Ito palette: eight colours that colour-blind readers can tell apart."""


class OutputError(OSError):
    """A file could not be written; the one-line message says which file, why (disk full, no permission), what to do."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code


def write_atomic(path: str | Path, write: Callable[[str], object]) -> Path:
    """Write ``path`` through a temporary file in the same folder, then rename: never half a file.

    ``write`` receives the temporary file's name. Checkpoints (notebook 08) and the main
    command's outputs all go through here, so an interrupted run leaves the old file or the new one.
    The data is flushed to the disk (``fsync``) before the rename, so a power cut cannot leave
    an empty file either. Temporary files that a killed writer left beside ``path`` are removed
    first. A failed write raises ``OutputError`` and leaves no temporary file behind.
    """
    path = Path(path)
    make_folder(path.parent)
    remove_stale_temporaries(path.parent, path.name)
    with atomic_output(path) as temporary:
        write(temporary)
    return path


@contextmanager
def atomic_output(path: str | Path) -> Iterator[str]:
    """``with atomic_output(path) as temporary:`` write the file ``temporary``; on success it becomes ``path``.

    The long-hand form of ``write_atomic``, for files written bit by bit (``predict`` writes a
    TIFF stack slice by slice). On any error, or Ctrl-C, the temporary file is removed and
    ``path`` keeps what it held before.
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(write_error_message(path, error), error.errno) from error
    os.close(handle)
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these are ordinary files
        yield temporary
        _flush_to_disk(temporary)
        os.replace(temporary, path)
        _flush_to_disk(path.parent)
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(write_error_message(path, error), error.errno) from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def make_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed; ``OutputError`` in one line if it cannot be."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:  # the folder's name is taken by a file
        raise OutputError(
            f"could not create the folder {folder}: a file of that name is in the way; move it or choose another "
            "folder",
            error.errno,
        ) from error
    except OSError as error:
        raise OutputError(write_error_message(folder, error), error.errno) from error
    return folder


def write_error_message(path: Path, error: OSError) -> str:
    """What went wrong when writing ``path``, in one line that says what to do."""
    code = error.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk is full: could not write {path}; free some space or choose another folder"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {path} (read-only folder or disk); choose a folder you can write to"
    if code == errno.ENOTDIR:
        blocker = next((p for p in [path, *path.parents] if p.is_file()), path.parent)
        return f"could not write {path}: {blocker} is a file, not a folder; move it or choose another folder"
    if code == errno.EISDIR:
        return f"could not write {path}: a folder of that name is in the way; move it or choose another folder"
    reason = error.strerror or str(error) or type(error).__name__
    return f"could not write {path} ({reason}); choose a folder you can write to"


def stale_temporaries(folder: str | Path, name: str = "*") -> list[Path]:
    """Temporary files of ``write_atomic`` beside ``folder/name`` whose writer is gone (killed, crashed).

    A temporary file is called ``<name>.<process id>.<random>.tmp``; it is stale when no
    process with that id runs any more. Files of running writers (say, a second ``predict``
    into the same folder) are left alone.
    """
    stale = []
    for file in Path(folder).glob(f"{name}.*.tmp"):
        parts = file.name[: -len(".tmp")].rsplit(".", 2)
        if len(parts) == 3 and parts[1].isdigit() and not _process_alive(int(parts[1])):
            stale.append(file)
    return stale


def remove_stale_temporaries(folder: str | Path, name: str = "*") -> list[Path]:
    """Delete ``stale_temporaries(folder, name)``; returns what was removed."""
    removed = []
    for file in stale_temporaries(folder, name):
        with suppress(FileNotFoundError):
            file.unlink()
            removed.append(file)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there; never call a file stale on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _flush_to_disk(path: str | Path) -> None:
    """``fsync`` a file (or, best effort, a folder) so that a rename never points at data still in memory."""
    if Path(path).is_dir():
        if os.name == "nt":
            return
        with suppress(OSError):
            handle = os.open(path, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        return
    handle = os.open(path, os.O_RDWR)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


# -- numerics: the precision policy (notebooks 05, 08, 09) ---------------------------------------------
# Convolutions dominate a U-Net's time. Some processors multiply bf16 (or fp16) many times faster than
# fp32 — Intel's AMX units, GPUs with tensor cores — and others emulate it slowly (an AMD EPYC without
# bf16 ran bf16 convolutions 30–350× slower). So the choice is made at run time, from what this machine
# measures, and every run says what it chose. Losses, softmax and weight maps always stay fp32.

PRECISION_ENV = "UNET_PRECISION"
"""Set ``UNET_PRECISION=fp32`` (or ``bf16``, ``fp16``) to override ``"auto"`` everywhere, e.g. to compare."""

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
FAST_ENOUGH = 1.3
"""A lower precision or memory layout is used only if the probe measures it at least this much faster."""


@dataclass(frozen=True)
class Precision:
    """How to compute on one device: the number format of the forward pass and the layout of the maps.

    ``dtype`` ``None`` means plain fp32; ``torch.bfloat16`` or ``torch.float16`` runs the forward pass under
    ``torch.autocast`` (convolutions in that format, sensitive reductions in fp32). ``channels_last`` stores
    feature maps as (N, H, W, C), which some convolution kernels prefer. ``reason`` says why.
    """

    device_type: str = "cpu"
    dtype: torch.dtype | None = None
    channels_last: bool = False
    reason: str = "fp32 by default"

    @property
    def name(self) -> str:
        """``"fp32"``, ``"bf16"`` or ``"fp16"``: the name ``--precision`` takes for this number format."""
        return next(name for name, dtype in _DTYPES.items() if dtype == self.dtype)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context for the forward pass: ``torch.autocast`` in ``dtype``, or nothing for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler that is active only for fp16 on CUDA (whose small range needs it), else a no-op."""
        enabled = self.dtype == torch.float16 and self.device_type == "cuda"
        return torch.amp.GradScaler(self.device_type, enabled=enabled)

    def describe(self) -> str:
        """One line for every run's output, e.g. ``"bf16 autocast, channels_last, on cpu (auto: …)"``."""
        number = "fp32" if self.dtype is None else f"{self.name} autocast"
        layout = "channels_last" if self.channels_last else "NCHW"
        return f"{number}, {layout}, on {self.device_type} ({self.reason})"

    def as_dict(self) -> dict[str, object]:
        """Plain values for a metrics JSON."""
        return {
            "precision": self.name,
            "channels_last": self.channels_last,
            "device": self.device_type,
            "reason": self.reason,
        }


FP32 = Precision(reason="plain fp32")
"""Plain fp32 in the usual layout: the default where no precision is chosen, and the reference for the others."""


def choose_precision(
    requested: str | None = "auto",
    device: torch.device | str | None = None,
    training: bool = True,
    model: torch.nn.Module | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Precision:
    """The precision to use on ``device``: ``"auto"`` measures, ``"fp32"``/``"bf16"``/``"fp16"`` force.

    ``auto`` (overridden by ``$UNET_PRECISION``): on CUDA, bf16 where the GPU supports it, else fp16 with
    a gradient scaler; on a CPU or Apple GPU, the fastest of fp32 and the low precision the hardware
    offers, by a short timed probe (cached per process), for training (forward + backward) or inference.
    Given the ``model`` and the ``input_shape`` of the real work, the memory layout is then decided on that
    work (``layout_on_the_work``): a small probe block does not show what a whole network at a large tile gains.
    """
    requested = (requested or "auto").lower()
    if requested == "auto":
        requested = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    device_type = torch.device(device).type if device is not None else pick_device().type
    if requested != "auto":
        return Precision(device_type, _DTYPES[requested], device_type == "cuda", f"{requested} as requested")
    if device_type == "cuda":
        if cuda_computes_bf16():
            return Precision("cuda", torch.bfloat16, True, "auto: this GPU computes bf16 natively")
        return Precision("cuda", torch.float16, True, "auto: fp16 with a gradient scaler, the GPU lacks bf16")
    chosen = _measured_precision(device_type, training)
    if model is None or input_shape is None or device_type == "cuda":
        return chosen
    return layout_on_the_work(chosen, model, tuple(input_shape), training)


def cuda_computes_bf16() -> bool:
    """True where the GPU has bf16 arithmetic (compute capability 8 and newer); a T4 (7.5, Colab's free GPU) makes
    bf16 tensors, so ``torch.cuda.is_bf16_supported()`` says yes, but only emulates the arithmetic, slowly."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before 2.3 counts no emulation
        return torch.cuda.is_bf16_supported()


def low_precision_candidate(device_type: str) -> torch.dtype | None:
    """The low precision worth probing: bf16 on a CPU whose oneDNN computes it, fp16 on an Apple GPU."""
    if device_type == "mps":
        return torch.float16
    if device_type == "cpu" and torch.backends.mkldnn.is_available():
        return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
    return None


@functools.cache
def _measured_precision(device_type: str, training: bool) -> Precision:
    """Time a U-Net block in each candidate format, interleaved; keep fp32 NCHW unless another is clearly faster."""
    low = low_precision_candidate(device_type)
    dtypes = [None] if low is None else [None, low]
    candidates = [Precision(device_type, dtype, layout) for dtype in dtypes for layout in (False, True)]
    runs = {candidate: probe(candidate, training) for candidate in candidates}
    times: dict[Precision, list[float]] = {candidate: [] for candidate in candidates}
    for _ in range(3):  # A/B interleaved, so that a busy moment hurts every candidate alike
        for candidate, run in runs.items():
            times[candidate].append(run())
    median = {candidate: sorted(t)[1] for candidate, t in times.items()}
    baseline, best = candidates[0], min(median, key=median.get)
    if median[baseline] < FAST_ENOUGH * median[best]:
        best = baseline
    what = "training" if training else "inference"
    if low is None:
        finding = f"this {device_type} has no fast {'bf16' if device_type == 'cpu' else 'fp16'} arithmetic"
    else:
        ratio = median[baseline] / min(median[c] for c in candidates if c.dtype == low)
        finding = f"{Precision(device_type, low).name} measured {ratio:.1f}× the speed of fp32 here"
    if best.channels_last:  # the probe's layout, which a busy machine can flip between runs: say what it saw
        gain = median[replace(best, channels_last=False)] / median[best]
        finding += f"; channels_last measured {gain:.2f}× the speed of NCHW on a probe block"
    return replace(best, reason=f"auto for {what}: {finding}")


def probe(precision: Precision, training: bool) -> Callable[[], float]:
    """A timer of one forward (and backward) pass of a 32-channel 3×3 double convolution at 64² in ``precision``.

    The block and its input are made once; each call of the returned function times one pass in seconds.
    The first call happens here (it picks the kernels), so the timed calls measure steady work.
    """
    device = torch.device(precision.device_type)
    generator = torch.Generator().manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3))
    block = block.to(device, memory_format=precision.memory_format)
    x = torch.randn(2, 32, 64, 64, generator=generator).to(device, memory_format=precision.memory_format)
    x.requires_grad_(training)

    def run() -> float:
        start = time.perf_counter()
        with precision.autocast(), torch.set_grad_enabled(training):
            y = block(x)
        if training:
            y.float().sum().backward()
        if device.type != "cpu":
            getattr(torch, device.type).synchronize()
        return time.perf_counter() - start

    run()
    return run


# -- The layout on the real work (issue 21) -------------------------------------------------------------------------

LAYOUT_GAIN = 1.1
"""On the real work, the other memory layout is taken when it measures at least this much faster. Lower than
``FAST_ENOUGH``: this probe times the very work to be done, not a stand-in for it."""

_LAYOUTS: dict[tuple, Precision] = {}


def layout_on_the_work(
    chosen: Precision, model: torch.nn.Module, input_shape: tuple[int, ...], training: bool
) -> Precision:
    """``chosen`` in the memory layout that runs ``model`` fastest on inputs of ``input_shape`` (cached per process).

    Measured on an AVX2 CPU without bf16: the course's 16-channel U-Net on one 700² tile ran 1.47× faster in
    channels_last, while the 32-channel 64² block that ``probe`` times saw no such gain and chose NCHW. So a
    prediction times both layouts of a copy of its own model at its own tile (one warm-up and two timed passes
    each, interleaved), in the number format already chosen, and keeps the faster one.
    """
    key = (chosen, _model_key(model), tuple(input_shape), training)
    if key not in _LAYOUTS:
        other = replace(chosen, channels_last=not chosen.channels_last)
        runs = {candidate: work_probe(candidate, model, input_shape, training) for candidate in (chosen, other)}
        times: dict[Precision, list[float]] = {candidate: [] for candidate in runs}
        for _ in range(2):
            for candidate, run in runs.items():
                times[candidate].append(run())
        _LAYOUTS[key] = pick_layout(chosen, other, min(times[chosen]) / min(times[other]), input_shape)
    return _LAYOUTS[key]


def pick_layout(chosen: Precision, other: Precision, ratio: float, input_shape: tuple[int, ...]) -> Precision:
    """``other`` when it ran ``ratio`` ≥ ``LAYOUT_GAIN`` times as fast as ``chosen``; the reason says what was seen,
    the faster layout first (``bf16 measured 2.9× the speed of fp32`` reads the same way)."""
    names = {layout: "channels_last" if layout.channels_last else "NCHW" for layout in (chosen, other)}
    size = "×".join(map(str, input_shape[-2:]))
    faster, slower, gain = (other, chosen, ratio) if ratio >= 1 else (chosen, other, 1 / ratio)
    seen = f"{names[faster]} measured {gain:.2f}× the speed of {names[slower]} on this model at {size}"
    if ratio >= LAYOUT_GAIN:
        return replace(other, reason=f"{chosen.reason}; {seen}")
    below = f", below the {LAYOUT_GAIN}× that switches" if faster is other else ""
    return replace(chosen, reason=f"{chosen.reason}; {seen}{below}")


def _model_key(model: torch.nn.Module) -> tuple:
    """What decides a network's cost: its class and the shapes of its parameters (not their values)."""
    return (type(model).__name__, tuple(tuple(p.shape) for p in model.parameters()))


def work_probe(
    precision: Precision, model: torch.nn.Module, input_shape: tuple[int, ...], training: bool
) -> Callable[[], float]:
    """A timer of one pass of a copy of ``model`` on a random input of ``input_shape`` in ``precision``.

    The copy leaves the caller's model untouched (its layout, batch-norm statistics and gradients). The first
    pass happens here, so that the timed ones measure steady work.
    """
    device = next(model.parameters()).device
    network = copy.deepcopy(model).to(memory_format=precision.memory_format).train(training)
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    x = x.to(device).contiguous(memory_format=precision.memory_format)

    def run() -> float:
        start = time.perf_counter()
        with precision.autocast(), torch.set_grad_enabled(training):
            y = network(x)
        if training:
            y.float().sum().backward()
            network.zero_grad(set_to_none=True)
        if device.type != "cpu":
            getattr(torch, device.type).synchronize()
        return time.perf_counter() - start

    run()
    return run
