"""The per-GPU lease: concurrent jobs get different GPUs, a job waits when all are held, a
killed job frees its GPU, and CPU-only and SLURM runs are left as they are. GPUs are simulated
(``visible`` or ``CUDA_VISIBLE_DEVICES``); the locks are real ``flock`` locks."""

import ast
import fcntl
import json
import os
import platform
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sftdpo import gpu
from sftdpo.gpu import gpu_lease, visible_gpus

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
GPU_JOB_SCRIPTS = ("train_sft.py", "train_dpo.py", "build_pairs.py", "generate.py",
                   "judge_summaries.py")


def lease_in_thread(wanted, lock_dir, visible, environ, release: threading.Event):
    """Start a lease in a thread that holds it until ``release``; returns (thread, got, event
    set once leased)."""
    got, leased = [], threading.Event()

    def hold():
        with gpu_lease(wanted, lock_dir=lock_dir, visible=visible, environ=environ,
                       poll_seconds=0.02) as ids:
            got.extend(ids)
            leased.set()
            release.wait(20)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread, got, leased


def is_locked(path: Path) -> bool:
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_visible_gpus_follow_cuda_visible_devices_or_the_count():
    assert visible_gpus({}, lambda: 3) == ["0", "1", "2"]
    assert visible_gpus({}, lambda: 0) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 5"}, lambda: 8) == ["2", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-ab12,GPU-cd34"}, lambda: 8) == [
        "GPU-ab12", "GPU-cd34"]
    # CUDA hides everything from the first negative id on; "" hides all.
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}, lambda: 8) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,3"}, lambda: 8) == ["1"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, lambda: 8) == []


def test_two_concurrent_leases_get_different_gpus(tmp_path):
    release = threading.Event()
    envs = [{}, {}]
    started = [lease_in_thread(1, tmp_path, ["0", "1"], env, release) for env in envs]
    assert all(leased.wait(10) for _, _, leased in started)
    assert sorted(env["CUDA_VISIBLE_DEVICES"] for env in envs) == ["0", "1"]
    assert sorted(got[0] for _, got, _ in started) == ["0", "1"]
    release.set()
    for thread, _, _ in started:
        thread.join(10)
    # Released: the variable is gone again (it was not set before) and the locks are free.
    assert envs == [{}, {}]
    assert not is_locked(tmp_path / "gpu-0.lock") and not is_locked(tmp_path / "gpu-1.lock")


def test_a_third_job_waits_until_a_gpu_is_released(tmp_path, capsys):
    first, second = {}, {}
    with gpu_lease(1, lock_dir=tmp_path, visible=["0", "1"], environ=first):
        release_second = threading.Event()
        thread2, got2, leased2 = lease_in_thread(1, tmp_path, ["0", "1"], second,
                                                 release_second)
        assert leased2.wait(10)
        third = {}
        release_third = threading.Event()
        thread3, got3, leased3 = lease_in_thread(1, tmp_path, ["0", "1"], third, release_third)
        assert not leased3.wait(0.5)
        assert "CUDA_VISIBLE_DEVICES" not in third
        release_second.set()
        assert leased3.wait(10)
        assert got3 == got2 and third["CUDA_VISIBLE_DEVICES"] == got2[0]
        assert got3[0] != first["CUDA_VISIBLE_DEVICES"]
        release_third.set()
        thread2.join(10)
        thread3.join(10)
    assert "GPU lease: waiting for 1 of the GPUs 0, 1" in capsys.readouterr().err


def test_a_killed_job_frees_its_gpu(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, sys, time
            from sftdpo.gpu import gpu_lease
            with gpu_lease(1, lock_dir={str(tmp_path)!r}, visible=["0"]):
                print(os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert is_locked(tmp_path / "gpu-0.lock")
        release = threading.Event()
        env = {}
        thread, got, leased = lease_in_thread(1, tmp_path, ["0"], env, release)
        assert not leased.wait(0.3)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert leased.wait(10) and got == ["0"]
        release.set()
        thread.join(10)
    finally:
        holder.kill()
        holder.wait(10)


def test_several_gpus_are_leased_together_or_not_at_all(tmp_path):
    with gpu_lease(1, lock_dir=tmp_path, visible=["0", "1", "2"], environ={}) as held:
        assert held == ["0"]
        env = {}
        with gpu_lease(2, lock_dir=tmp_path, visible=["0", "1", "2"], environ=env) as pair:
            assert pair == ["1", "2"] and env["CUDA_VISIBLE_DEVICES"] == "1,2"
        # Two wanted, one free: the waiting job holds nothing meanwhile, so others can use it.
        release = threading.Event()
        thread, got, leased = lease_in_thread(3, tmp_path, ["0", "1", "2"], {}, release)
        assert not leased.wait(0.3)
        with gpu_lease(1, lock_dir=tmp_path, visible=["0", "1", "2"], environ={}) as other:
            assert other == ["1"]
    assert leased.wait(10) and got == ["0", "1", "2"]
    release.set()
    thread.join(10)


def test_one_attempt_at_a_time_takes_locks(tmp_path):
    """While another attempt holds the folder's lock, a lease waits for it, though GPUs are
    free: two attempts never interleave (each takes part of the GPUs, and neither gets all)."""
    with open(tmp_path / gpu.ATTEMPT_LOCK, "a") as attempt:
        fcntl.flock(attempt, fcntl.LOCK_EX)
        release = threading.Event()
        thread, got, leased = lease_in_thread(2, tmp_path, ["0", "1"], {}, release)
        assert not leased.wait(0.3)
    assert leased.wait(10) and got == ["0", "1"]
    release.set()
    thread.join(10)


def test_jobs_that_want_different_counts_share_the_gpus_without_deadlock(tmp_path):
    """Jobs of 1 to 4 GPUs of 4, each leasing, holding and releasing three times at once:
    each gets as many GPUs as it wants, never one another job holds, and all finish."""
    visible = ["0", "1", "2", "3"]
    holders: dict[str, int] = {}
    overlaps, finished = [], []
    guard = threading.Lock()

    def job(number: int, wanted: int):
        for _ in range(3):
            with gpu_lease(wanted, lock_dir=tmp_path, visible=visible, environ={},
                           poll_seconds=0.005) as ids:
                with guard:
                    overlaps.extend(gpu for gpu in ids if gpu in holders)
                    holders.update(dict.fromkeys(ids, number))
                assert len(ids) == wanted
                threading.Event().wait(0.01)
                with guard:
                    for gpu in ids:
                        del holders[gpu]
        finished.append(number)

    threads = [threading.Thread(target=job, args=(number, wanted), daemon=True)
               for number, wanted in enumerate([4, 1, 2, 3, 1, 2, 4, 1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(finished) == list(range(8)) and overlaps == []


def test_cpu_only_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "nvml_device_count", lambda: 0)
    env = {"PATH": "/bin"}
    with gpu_lease(1, lock_dir=tmp_path / "locks", environ=env) as held:
        assert held == [] and env == {"PATH": "/bin"}
    assert not (tmp_path / "locks").exists()


def test_detected_gpus_are_leased_when_cuda_visible_devices_is_unset(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "nvml_device_count", lambda: 2)
    env = {}
    with gpu_lease(1, lock_dir=tmp_path, environ=env) as held:
        assert held == ["0"] and env["CUDA_VISIBLE_DEVICES"] == "0"
    assert env == {}


def test_under_slurm_the_jobs_gpus_are_kept(tmp_path):
    env = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"}
    with gpu_lease(1, lock_dir=tmp_path / "locks", environ=env) as held:
        assert held == [] and env["CUDA_VISIBLE_DEVICES"] == "3"
    assert env == {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"}
    assert not (tmp_path / "locks").exists()


def test_a_lease_restores_the_users_choice_of_gpus(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "4,6", "SFTDPO_GPU_LOCK_DIR": str(tmp_path / "shared")}
    with gpu_lease(1, environ=env) as held:
        assert held == ["4"] and env["CUDA_VISIBLE_DEVICES"] == "4"
        assert is_locked(tmp_path / "shared" / "gpu-4.lock")
    assert env["CUDA_VISIBLE_DEVICES"] == "4,6"


def test_more_gpus_than_the_machine_has_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"asks for 3 GPUs .* shows 2: 0, 1"), \
            gpu_lease(3, lock_dir=tmp_path, visible=["0", "1"], environ={}):
        pass


# Where glibc's malloc puts a 64 MiB block (a mapping of its own, or the heap) and whether
# the heap still holds it once freed: mallinfo2 (glibc 2.33+) counts both.
MALLOC_PROBE = textwrap.dedent("""
    import ctypes, platform
    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]
    def malloc_probe():
        if platform.libc_ver()[0] != "glibc":
            return "not glibc"
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = Mallinfo2
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        block = libc.malloc(64 << 20)
        mapped = libc.mallinfo2().hblkhd >= 64 << 20
        libc.free(block)
        return mapped, libc.mallinfo2().arena >= 64 << 20
""")


def test_start_job_leases_before_torch_and_holds_the_gpu_after_it_returns(tmp_path):
    """A job script's start, in a process of its own (it redirects the process's output).
    Start-up runs without the garbage collector; the compute section with it, start-up's
    objects frozen. Memory the job frees stays in its heap for the next tensors."""
    log = tmp_path / "job.log"
    code = MALLOC_PROBE + textwrap.dedent(f"""
        import fcntl, gc, os, sys
        from types import SimpleNamespace
        from sftdpo.runtime import start_job
        sm = SimpleNamespace(log=[{str(log)!r}], resources={{"gpu": 1}}, threads=1,
                             params=SimpleNamespace(seed=0))
        before = malloc_probe()
        meter = start_job(sm, {{"quantization": "none"}})
        print("MALLOC", before, malloc_probe())
        import peft
        from transformers.utils import is_bitsandbytes_available
        print("BITSANDBYTES", is_bitsandbytes_available(), sys.modules["bitsandbytes"])
        with open(os.path.join({str(tmp_path)!r}, "locks", "gpu-7.lock"), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = False
            except BlockingIOError:
                held = True
        print("RESULT", os.environ["CUDA_VISIBLE_DEVICES"], meter.device, held)
        import torch
        print("SUBNORMAL", (torch.tensor([1e-39]) * 1.0).item())
        print("COLLECTOR", gc.isenabled())
        with meter.measure():
            print("MEASURED", gc.isenabled(), gc.get_freeze_count() > 100_000)
    """)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "7,9",
           "SFTDPO_GPU_LOCK_DIR": str(tmp_path / "locks")}
    env.pop("SLURM_JOB_ID", None)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    text = log.read_text()
    assert "GPU lease: CUDA_VISIBLE_DEVICES=7" in text
    # On this CPU-only build torch sees no GPU, so the job runs on the CPU.
    assert "RESULT 7 cpu True" in text
    # An unquantised model's job never imports bitsandbytes, though PEFT is imported.
    assert "BITSANDBYTES False None" in text
    # Subnormal floats are flushed to zero (their slow path on x86 CPUs).
    assert "SUBNORMAL 0.0" in text
    assert "COLLECTOR False" in text and "MEASURED True True" in text
    # glibc maps a 64 MiB block of its own and unmaps it when freed; after start_job the heap
    # serves it and keeps it (sftdpo.runtime.keep_freed_memory).
    if platform.libc_ver()[0] == "glibc":
        assert "MALLOC (True, False) (False, True)" in text


PROBE = textwrap.dedent("""
    import importlib, json, sys
    import torch
    calls = []
    def recorder(name, original):
        def call(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return call
    for name in ("is_available", "device_count", "init", "_lazy_init", "current_device",
                 "get_device_name", "synchronize"):
        setattr(torch.cuda, name, recorder(name, getattr(torch.cuda, name)))
    for module in sys.argv[1:]:
        importlib.import_module(module)
    print(json.dumps(calls))
""")


def cuda_calls_on_import(modules: list[str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True,
                            text=True, check=True, timeout=300)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_job_scripts_imports_ask_cuda_nothing_before_the_lease():
    """CUDA reads CUDA_VISIBLE_DEVICES once: a module imported at the top of a job script that
    asked CUDA anything (peft does, through bitsandbytes) would make the lease useless."""
    modules = set()
    for script in GPU_JOB_SCRIPTS:
        tree = ast.parse((SCRIPTS / script).read_text())
        modules |= {node.module for node in tree.body
                    if isinstance(node, ast.ImportFrom) and node.module}
        modules |= {alias.name for node in tree.body if isinstance(node, ast.Import)
                    for alias in node.names}
    assert "sftdpo.runtime" in modules and "sftdpo.training" in modules
    assert cuda_calls_on_import(sorted(modules)) == []
    # The probe does see such a call: importing peft asks CUDA at once (where bitsandbytes is).
    pytest.importorskip("bitsandbytes")
    assert "is_available" in cuda_calls_on_import(["peft"])
