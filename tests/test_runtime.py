"""unet_lib.runtime: the fast-mode warning that every notebook prints the same way."""

import numpy as np
import pytest

from unet_lib import runtime


def test_fast_mode_note_only_in_fast_mode(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    note = runtime.fast_mode_note("training ran 4 steps instead of 2½ minutes")
    assert note.startswith("⚠ Fast mode (UNET_FAST=1") and "training ran 4 steps instead of 2½ minutes" in note
    assert "Unset UNET_FAST" in note and "\n" not in note
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    assert runtime.fast_mode_note("training ran 4 steps") == ""


# -- The thread decision (issue 22): every limit it can read, the smallest wins ------------------------------------


def _cgroup(tmp_path, files: dict[str, str], proc: str = "0::/\n"):
    for name, text in files.items():
        path = tmp_path / "cg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "proc_cgroup").write_text(proc)
    return tmp_path / "cg", tmp_path / "proc_cgroup"


def test_cgroup_v2_quota_is_read_from_cpu_max(tmp_path) -> None:
    root, proc = _cgroup(tmp_path, {"cpu.max": "150000 100000\n"})
    assert runtime.cgroup_cpu_quota(root, proc) == 1.5


def test_cgroup_v2_without_quota_and_no_files_give_none(tmp_path) -> None:
    root, proc = _cgroup(tmp_path, {"cpu.max": "max 100000\n"})
    assert runtime.cgroup_cpu_quota(root, proc) is None
    assert runtime.cgroup_cpu_quota(tmp_path / "nowhere", tmp_path / "no_proc") is None


def test_cgroup_v2_nested_group_and_its_parent_the_smaller_counts(tmp_path) -> None:
    root, proc = _cgroup(
        tmp_path,
        {"cpu.max": "max 100000", "kubepods/pod1/cpu.max": "400000 100000", "kubepods/cpu.max": "250000 100000"},
        proc="0::/kubepods/pod1\n",
    )
    assert runtime.cgroup_cpu_quota(root, proc) == 2.5


def test_cgroup_v1_quota_and_the_unlimited_minus_one(tmp_path) -> None:
    root, proc = _cgroup(
        tmp_path, {"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}, "3:cpu,cpuacct:/\n"
    )
    assert runtime.cgroup_cpu_quota(root, proc) == 0.5
    root, proc = _cgroup(tmp_path / "b", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, "3:cpu:/\n")
    assert runtime.cgroup_cpu_quota(root, proc) is None


def test_cgroup_memory_limit_v2_v1_and_none(tmp_path) -> None:
    """doctor --class counts the kernels a machine holds: a hub pod sees the node's memory but may use its limit."""
    root, proc = _cgroup(tmp_path, {"memory.max": "max\n", "pod1/memory.max": "2147483648\n"}, proc="0::/pod1\n")
    assert runtime.cgroup_memory_limit(root, proc) == 2147483648
    root, proc = _cgroup(tmp_path / "b", {"memory/memory.limit_in_bytes": "9223372036854771712"}, "4:memory:/\n")
    assert runtime.cgroup_memory_limit(root, proc) is None  # v1's "no limit"
    root, proc = _cgroup(tmp_path / "c", {"memory/memory.limit_in_bytes": "1073741824"}, "4:memory:/\n")
    assert runtime.cgroup_memory_limit(root, proc) == 1073741824
    assert runtime.cgroup_memory_limit(tmp_path / "nowhere", tmp_path / "no_proc") is None


def test_the_smallest_limit_decides_rounded_down_at_least_one() -> None:
    decision = runtime.decide_threads(environ={}, quota=2.5, affinity=16, cores=16)
    assert decision.threads == 2 and decision.decided_by == "cgroup CPU quota"
    assert decision.describe().startswith("2 threads (cgroup CPU quota 2.5 CPUs;")
    assert runtime.decide_threads(environ={}, quota=0.5, affinity=16, cores=16).threads == 1
    assert runtime.decide_threads(environ={}, quota=None, affinity=3, cores=16).decided_by == "CPU affinity"
    omp = runtime.decide_threads(environ={"OMP_NUM_THREADS": "1"}, quota=None, affinity=8, cores=8)
    assert (omp.threads, omp.decided_by) == (1, "OMP_NUM_THREADS")
    mine = runtime.decide_threads(
        environ={"UNET_THREADS": "3", "OMP_NUM_THREADS": "junk"}, quota=None, affinity=8, cores=8
    )
    assert (mine.threads, mine.decided_by) == (3, "UNET_THREADS")
    assert runtime.decide_threads(2, environ={}, quota=None, affinity=8, cores=8).decided_by == "requested"
    with pytest.raises(ValueError):
        runtime.decide_threads(0, environ={})


def test_use_granted_threads_gives_torch_the_decision(monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("UNET_THREADS", "1")
    try:
        assert runtime.use_granted_threads().threads == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_processes_sharing_the_grant_get_an_equal_share_each() -> None:
    # torchrun with 2 processes in a pod granted 4 CPUs of a 16-core node: 2 threads each, not 16
    share = runtime.decide_threads(environ={"LOCAL_WORLD_SIZE": "2"}, quota=4.0, affinity=16, cores=16)
    assert (share.threads, share.decided_by) == (2, "share of 2 processes")
    assert share.describe().startswith("2 threads (share of 2 processes 2 CPUs; cgroup CPU quota 4 CPUs;")
    assert runtime.decide_threads(processes=3, environ={}, quota=None, affinity=2, cores=2).threads == 1
    assert (
        runtime.decide_threads(processes=1, environ={"LOCAL_WORLD_SIZE": "8"}, quota=None, affinity=8, cores=8).threads
        == 8
    )


def test_the_most_explicit_setting_counts_within_what_the_machine_grants() -> None:
    # torchrun sets OMP_NUM_THREADS=1 in every process it starts: --threads (or UNET_THREADS) must still count
    under_torchrun = {"OMP_NUM_THREADS": "1", "LOCAL_WORLD_SIZE": "2"}
    mine = runtime.decide_threads(4, environ=under_torchrun, quota=None, affinity=16, cores=16)
    assert (mine.threads, mine.decided_by) == (4, "requested")
    env = runtime.decide_threads(environ={**under_torchrun, "UNET_THREADS": "3"}, quota=None, affinity=16, cores=16)
    assert (env.threads, env.decided_by) == (3, "UNET_THREADS")
    greedy = runtime.decide_threads(64, environ=under_torchrun, quota=None, affinity=16, cores=16)
    assert (greedy.threads, greedy.decided_by) == (8, "share of 2 processes")
    # on a tie the specific limit is named: asking for 2 on 2 cores is "requested", not "cores seen"
    assert runtime.decide_threads(2, environ={}, quota=None, affinity=2, cores=2).decided_by == "requested"


def test_cgroup_inside_a_container_whose_mount_starts_at_its_own_group(tmp_path) -> None:
    # a pod's /proc/self/cgroup names the node's path, while the container sees its own group at the mount's root
    root, proc = _cgroup(tmp_path, {"cpu.max": "100000 100000"}, proc="0::/kubepods/burstable/pod7/abc\n")
    assert runtime.cgroup_cpu_quota(root, proc) == 1.0
    root, proc = _cgroup(
        tmp_path / "v1",
        {"cpu,cpuacct/cpu.cfs_quota_us": "200000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
        proc="4:cpu,cpuacct:/docker/0123\n",
    )
    assert runtime.cgroup_cpu_quota(root, proc) == 2.0


def test_dataloader_workers_follow_the_cpus_granted_not_the_cores_seen(monkeypatch) -> None:
    import os

    import torch

    from unet_lib import batches

    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # a container on a big node sees every core
    for granted, workers in ((1, 0), (3, 2), (16, 4)):
        decision = runtime.ThreadDecision(granted, {"cgroup CPU quota": float(granted), "cores seen": 64.0})
        monkeypatch.setattr(runtime, "decide_threads", lambda *args, decision=decision, **kwargs: decision)
        assert batches.default_workers(torch.device("cuda")) == workers
        assert batches.default_workers(torch.device("cpu")) == 0


def test_every_says_the_whole_set_as_a_person_does() -> None:
    """The doctor's one-class finding said "object everywhere in all 2 images"."""
    assert runtime.every(1, "image") == "the one image"
    assert runtime.every(2, "image") == "both images"
    assert runtime.every(1500, "slice") == "all 1,500 slices"


def test_the_names_a_known_set_by_its_size() -> None:
    """evaluate wrote "the one image it did not train on", the doctor "on 1 image it did not train on"."""
    assert runtime.the(1, "image") == "the one image"
    assert runtime.the(3, "image") == "the 3 images"


def test_plural_writes_every_count_one_way() -> None:
    assert runtime.plural(1, "image") == "1 image"
    assert runtime.plural(0, "image") == "0 images"
    assert runtime.plural(1103, "step") == "1,103 steps"
    assert runtime.plural(np.int64(2), "thread") == "2 threads"  # NumPy's integers too
    assert runtime.plural(1.0, "minute") == "1 minute"
    assert runtime.plural(2.5, "minute") == "2.5 minutes"
    assert runtime.plural(3, "ok", "ok") == "3 ok"


def test_name_list_names_the_first_few_and_counts_the_rest() -> None:
    assert runtime.name_list(["a.png"]) == "a.png"
    assert runtime.name_list(["a.png", "b.png", "c.png"]) == "a.png, b.png, c.png"
    assert runtime.name_list(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert runtime.name_list([3, 7, 9], most=2) == "3, 7 and 1 more"  # slice numbers too
    assert runtime.name_list([]) == ""


def _library_strings() -> list[tuple[str, int, str]]:
    """Every string literal (f-strings' literal parts included) of unet_lib's modules: (file, line, text)."""
    import ast
    from pathlib import Path

    library = Path(runtime.__file__).parent
    found = []
    for path in sorted(library.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((str(path.relative_to(library.parent)), node.lineno, node.value))
    return found


def test_counts_and_name_lists_are_written_one_way() -> None:
    """A printed count goes through runtime.plural ("1 pixel", "2 pixels", never "1 pixel(s)"), and a list of
    names through runtime.name_list ("a, b, c and 4 more"), not a copy of it."""
    import re

    hand_plurals = [f"{f}:{line} {text!r}" for f, line, text in _library_strings() if re.search(r"[a-z]\(s\)", text)]
    assert not hand_plurals, "write these counts with runtime.plural:\n" + "\n".join(hand_plurals)
    copies = [
        f"{f}:{line}"
        for f, line, text in _library_strings()
        if text.strip() == "more" and not f.endswith("runtime.py")  # the literal tail of f" and {n} more"
    ]
    assert not copies, "name these lists with runtime.name_list:\n" + "\n".join(copies)


def test_every_write_error_says_what_to_do(tmp_path) -> None:
    """A write that failed for a reason the course does not name ('--out /proc/x') said only 'could not write X
    (No such file or directory)', and a file where a folder goes said nothing to do: each line ends in advice."""
    import errno

    odd = runtime.write_error_message(tmp_path / "x", OSError(errno.ENOENT, "No such file or directory"))
    assert odd.startswith(f"could not write {tmp_path / 'x'} (No such file or directory); ") and "choose" in odd
    (tmp_path / "taken").write_text("")
    with pytest.raises(runtime.OutputError) as refused:
        runtime.make_folder(tmp_path / "taken")
    assert str(refused.value).endswith("a file of that name is in the way; move it or choose another folder")
