"""Names of cases, the machine description and the text table of a run (see ``bench.py``).

No NumPy or torch at import time: the scheduling parent process imports this module.
"""
from __future__ import annotations

import os
import platform

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Set on these machines as a safety measure for older OpenBLAS builds, and on no reader's
# machine: with them a current NumPy runs OpenBLAS's AVX2 ("Haswell") kernels even on a CPU
# with AVX-512. The workers of a benchmark run without them unless --inherit-blas-env.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
CONV_KEYS = ("N", "C_in", "H", "W", "C_out", "k", "stride", "pad")


def label(kind: str, case: dict, dtype: str | None = None) -> str:
    """A short name of a case, e.g. ``conv 128,1,28,28,6,5,1,2 float32``."""
    if kind == "conv":
        text = "conv " + ",".join(str(case[k]) for k in CONV_KEYS)
    elif kind == "pool":
        text = f"maxpool{case['k']} " + ",".join(str(case[k]) for k in "NCHW")
    else:
        text = f"lenet5 batch {case['N']}"
    return text + (f" {dtype}" if dtype else "")


def machine_info(spec: dict) -> dict:
    """CPU, core count, library versions and BLAS builds (from a worker process)."""
    import re

    import numpy as np
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    info = {"cpu_model": cpu, "logical_cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "threads": spec["threads"], "python": platform.python_version(),
            "platform": platform.platform(), "numpy": np.__version__,
            "numpy_blas": {k: blas.get(k) for k in ("name", "version", "openblas configuration")
                           if blas.get(k)},
            "openblas_core": _openblas_core(),
            "threadpoolctl": _threadpools(),
            "env": {k: os.environ[k] for k in (*THREAD_VARS, *BLAS_OVERRIDES)
                    if k in os.environ}}
    if spec.get("torch"):
        import torch
        config = torch.__config__.show()
        found = {key: re.search(pattern, config) for key, pattern in
                 (("blas", r"BLAS_INFO=(\w+)"), ("cpu_capability", r"CPU capability usage: (\w+)"))}
        info["torch"] = torch.__version__
        info["torch_backend"] = {k: m.group(1) for k, m in found.items() if m}
        info["torch_backend"]["mkldnn"] = torch.backends.mkldnn.is_available()
    return info


def _threadpools() -> list[dict] | None:
    """What threadpoolctl reports of the BLAS and OpenMP libraries loaded (kernel set included)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: pool[k] for k in keys if k in pool} for pool in threadpool_info()]


def _openblas_core() -> str | None:
    """The kernel set OpenBLAS picked at run time (e.g. 'Haswell'), if it can be asked."""
    import ctypes
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            path = next(line.split()[-1] for line in f if "openblas" in line.lower())
        lib = ctypes.CDLL(path)
    except (OSError, StopIteration):
        return None
    for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                 "openblas_get_corename64_", "openblas_get_corename"):
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            return fn().decode()
    return None


def table(data: dict) -> str:
    """The results as text: medians in ms and the ratios the targets are about."""
    def ms(t):
        return f"{t * 1e3:9.2f}" if t is not None else f"{'-':>9s}"

    lines = ["conv2d (ms, median of rounds)      cnnlab: fwd      bwd  fwd+bwd |  torch  x torch"
             " | textbook  x cnnlab | GEMM  %GEMM | naive"]
    for r in data["results"]:
        sec = r["seconds"]

        def get(who, phase="fwd_bwd", sec=sec):
            return sec.get(who, {}).get(phase)

        if r["kind"] == "conv":
            c, t, g, tb = get("cnnlab"), get("torch"), get("gemm"), get("textbook")
            lines.append(f"{r['label']:33s} {ms(get('cnnlab', 'forward'))}"
                         f"{ms(get('cnnlab', 'backward'))}{ms(c)} |{ms(t)} "
                         f"{_ratio(c, t):>7s} |{ms(tb)} {_ratio(tb, c):>8s} |{ms(g)} "
                         f"{_pct(g, c):>5s} |{ms(get('naive'))}")
    parted = [r for r in data["results"] if r["seconds"].get("parts")]
    if parted:
        lines.append(f"\n{'where cnnlab fwd+bwd goes (ms)':33s}   im2col  3 GEMMs reorders"
                     f"   col2im |  GEMMs x torch")
        for r in parted:
            part, t = r["seconds"]["parts"], r["seconds"].get("torch", {}).get("fwd_bwd")
            gemms = sum(v for k, v in part.items() if k.startswith("gemm_"))
            reorders = part["to_nchw"] + part["to_grid"] + part["dbias"]
            lines.append(f"{r['label']:33s} {ms(part['im2col'])}{ms(gemms)}{ms(reorders)}"
                         f"{ms(part['col2im'])} | {_ratio(gemms, t):>8s}")
    peaks = [r for r in data["results"] if r.get("peak_bytes")]
    if peaks:
        lines.append(f"\n{'peak memory of one fwd+bwd (MiB)':33s}    cnnlab     torch  x torch")
        for r in peaks:
            c, t = r["peak_bytes"].get("cnnlab"), r["peak_bytes"].get("torch")
            lines.append(f"{r['label']:33s} {_mib(c)} {_mib(t)} {_ratio(c, t):>8s}")
    for kind, phase, head in (("pool", "fwd_bwd", "max-pool 2x2 fwd+bwd"),
                              ("lenet", "step", "LeNet-5 training step")):
        rows = [r for r in data["results"] if r["kind"] == kind]
        if rows:
            lines.append(f"\n{head + ' (ms)':33s}    cnnlab     torch  x torch")
        for r in rows:
            c, t = r["seconds"]["cnnlab"][phase], r["seconds"].get("torch", {}).get(phase)
            lines.append(f"{r['label']:33s} {ms(c)} {ms(t)} {_ratio(c, t):>8s}")
    if data["targets"]:
        lines.append("\ntargets")
        for t in data["targets"]:
            value = f"{t['value']:.0%}" if "%" in t["target"] else f"{t['value']:.2f}x"
            lines.append(f"  {'met ' if t['met'] else 'MISS'}  {t['target']:50s} {value:>7s}"
                         f"  {t['case']}")
    return "\n".join(lines)


def _mib(n) -> str:
    return f"{n / 2**20:9.1f}" if n is not None else f"{'-':>9s}"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def _pct(a, b) -> str:
    return f"{a / b:.0%}" if a is not None and b else "-"
