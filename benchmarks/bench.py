"""How fast is cnnlab?  Conv2d, max pooling and a LeNet-5 step against PyTorch and NumPy.

Run from the repository root (``make bench`` runs the first line)::

    .venv/bin/python benchmarks/bench.py            # full run: benchmarks/results/latest.json
    .venv/bin/python benchmarks/bench.py --quick --out /tmp/bench.json   # smoke test

Method.  The parent process only schedules: every measurement runs in a fresh
worker process (``--worker``) that pins the thread count of OpenMP, OpenBLAS, MKL
and torch *before* importing them, builds its data from a fixed seed, warms up
and times repeated calls.  NumPy and torch workers take turns and never run at
the same time: on a 2-core machine the idle threads of one steal the cores of the
other.  Every case is repeated for ``--rounds`` rounds (alternating which side
goes first) and the report gives the median over rounds of each worker's median.
Before any timing a verification worker checks that cnnlab, the textbook
im2col and torch agree (and that one LeNet-5 step gives the same loss and weights).
After the timings, one more worker per side and conv case measures the peak memory
of one forward+backward pass (``workloads.conv_peak_memory``).

Kernels.  The workers measure what a reader's machine runs: they start without
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (set on some machines for older OpenBLAS
builds; with them NumPy's OpenBLAS uses its AVX2 kernels even where AVX-512 ones
exist).  ``--inherit-blas-env`` keeps them, to compare.  The JSON records which kernels
ran (``machine.openblas_core`` and threadpoolctl's report, ``machine.threadpoolctl``)
and ``settings.blas_env``.  Tests and CI keep the environment as it is.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import BLAS_OVERRIDES, CONV_KEYS, THREAD_VARS, label, machine_info, table

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "latest.json"

# (N, C_in, H, W, C_out, k, stride, pad)
CONV_SHAPES = [(128, 1, 28, 28, 6, 5, 1, 2), (128, 6, 14, 14, 16, 5, 1, 0),
               (64, 32, 16, 16, 64, 3, 1, 1), (16, 64, 56, 56, 64, 3, 1, 1),
               (32, 64, 32, 32, 128, 3, 2, 1)]
POOL_SHAPES = [(128, 6, 28, 28), (64, 64, 32, 32)]  # 2x2 max pooling, stride 2
LENET_BATCH = 128
PHASES = ("forward", "backward", "fwd_bwd")


# ------------------------------------------------------------------ workers


def _time(fn, budget: float, min_reps: int, max_reps: int, warmup: bool = True) -> list[float]:
    """Seconds per call: two warm-up calls, then enough calls to fill ``budget``."""
    reps = min_reps
    if warmup:
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start
        fn()
        reps = int(min(max_reps, max(min_reps, budget / max(first, 1e-9))))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def run_worker(spec: dict) -> dict:
    """Set up one (kind, side, case) and return ``{measure: [seconds, ...]}``."""
    import workloads as wl
    if spec["side"] == "torch":
        import torch
        torch.set_num_threads(spec["threads"])
    kind, case, dtype = spec["kind"], spec.get("case"), spec.get("dtype", "float32")
    if spec["side"] == "verify":
        return wl.verify(spec)
    if spec["side"] == "info":
        return machine_info(spec)
    if kind == "memory":
        return wl.conv_peak_memory(case, dtype, spec["who"])
    if kind == "conv":
        fns = {}
        for which in spec["which"]:
            setup = (wl.conv_torch_setup(case, dtype) if which == "torch"
                     else wl.conv_numpy_setup(case, dtype, which))
            fns.update({f"{which}.{phase}": fn for phase, fn in setup.items()})
    elif kind == "pool":
        torch_side = spec["side"] == "torch"
        setup = wl.pool_torch_setup(case) if torch_side else wl.pool_numpy_setup(case)
        fns = {f"{'torch' if torch_side else 'cnnlab'}.{phase}": fn for phase, fn in setup.items()}
    else:  # lenet
        torch_side = spec["side"] == "torch"
        step, _ = (wl.lenet_torch if torch_side else wl.lenet_numpy)(case["N"])
        fns = {f"{'torch' if torch_side else 'cnnlab'}.step": step}
    gc.collect()
    gc.disable()  # no collector pauses inside the timed calls
    try:
        return {name: _time(fn, spec["budget"], spec["min_reps"], spec["max_reps"],
                            spec.get("warmup", True)) for name, fn in fns.items()}
    finally:
        gc.enable()


def worker_env(threads: int, inherit_blas_env: bool) -> dict[str, str]:
    """The environment of a worker: thread counts pinned, BLAS overrides removed unless kept."""
    env = dict(os.environ, **{var: str(threads) for var in THREAD_VARS})
    if not inherit_blas_env:
        for var in BLAS_OVERRIDES:
            env.pop(var, None)
    return env


def spawn(spec: dict, threads: int, inherit_blas_env: bool = False) -> dict:
    """Run one worker process and return its JSON answer."""
    env = worker_env(threads, inherit_blas_env)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                           json.dumps(spec)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec['side']} {spec['kind']} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------- the parent


def build_items(args) -> list[dict]:
    """The cases to measure, in the order they are reported."""
    items = [{"kind": "conv", "case": dict(zip(CONV_KEYS, shape, strict=True)), "dtype": dtype}
             for shape in args.conv_shapes for dtype in args.dtypes]
    items += [{"kind": "pool", "case": dict(zip("NCHW", shape, strict=True), k=2),
               "dtype": "float32"}
              for shape in args.pool_shapes]
    if args.lenet_batch:
        items.append({"kind": "lenet", "case": {"N": args.lenet_batch}, "dtype": "float32"})
    return items


def conv_flops(case: dict) -> int:
    """Multiply-adds x 2 of the forward pass (each backward GEMM has as many)."""
    ho = (case["H"] + 2 * case["pad"] - case["k"]) // case["stride"] + 1
    wo = (case["W"] + 2 * case["pad"] - case["k"]) // case["stride"] + 1
    return 2 * case["N"] * case["C_out"] * ho * wo * case["C_in"] * case["k"] ** 2


def run(args) -> dict:
    """Verify, then time every item for ``args.rounds`` rounds; return the results dict."""
    items = build_items(args)
    with_torch = args.torch
    def call(spec):
        return (run_worker(spec) if args.in_process
                else spawn(spec, args.threads, args.inherit_blas_env))
    base = {"threads": args.threads, "budget": args.budget, "min_reps": args.min_reps,
            "max_reps": args.max_reps}
    _progress("machine info")
    machine = call({"side": "info", "kind": "info", "threads": args.threads, "torch": with_torch})
    verification = None
    if with_torch:
        _progress("verifying numerics against torch")
        verification = call({"side": "verify", "kind": "verify", "items": items, **base})
    samples = [{} for _ in items]  # item index -> measure -> [per-round medians]

    def record(i, answer):
        for measure, times in answer.items():
            samples[i].setdefault(measure, []).append(statistics.median(times))

    conv_items = [i for i, it in enumerate(items) if it["kind"] == "conv"]
    if conv_items and not args.no_naive:  # loops are slow: smallest case, one call, one round
        smallest = min(conv_flops(items[i]["case"]) for i in conv_items)
        for i in conv_items:
            if conv_flops(items[i]["case"]) == smallest:
                _progress(f"naive loops on {label('conv', items[i]['case'], items[i]['dtype'])}")
                record(i, call({**items[i], **base, "side": "numpy", "which": ["naive"],
                                "min_reps": 1, "warmup": False}))
    for rnd in range(args.rounds):
        for i, item in enumerate(items):
            sides = ["numpy", "torch"] if with_torch else ["numpy"]
            for side in sides if rnd % 2 == 0 else sides[::-1]:  # alternate who goes first
                spec = {**item, **base, "side": side}
                if item["kind"] == "conv":
                    spec["which"] = (["torch"] if side == "torch"
                                     else ["cnnlab", "textbook", "gemm", "parts"])
                _progress(f"round {rnd + 1}/{args.rounds} {side:5s} "
                          f"{label(item['kind'], item['case'], item['dtype'])}")
                record(i, call(spec))
    peaks = [{} for _ in items]  # item index -> who -> bytes
    for i in conv_items if not args.no_memory else ():
        for who in ("cnnlab", "torch") if with_torch else ("cnnlab",):
            _progress(f"peak memory {who:6s} {label('conv', items[i]['case'], items[i]['dtype'])}")
            spec = {**items[i], **base, "kind": "memory", "who": who,
                    "side": "torch" if who == "torch" else "numpy"}
            # always a process of its own, even with --in-process: the measurement changes
            # the allocator's settings and reads the process's peak resident set
            peaks[i][who] = spawn(spec, args.threads, args.inherit_blas_env)["peak_bytes"]
    results = []
    for item, measured, peak in zip(items, samples, peaks, strict=True):
        seconds = {}
        for measure, per_round in measured.items():
            who, phase = measure.split(".")
            seconds.setdefault(who, {})[phase] = statistics.median(per_round)
        results.append({**item, "label": label(item["kind"], item["case"], item["dtype"]),
                        "seconds": seconds, "per_round": measured,
                        **({"peak_bytes": peak} if peak else {})})
    return {"schema": 1, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "command": args.command, "machine": machine,
            "settings": {**{k: getattr(args, k) for k in ("rounds", "threads", "budget",
                                                          "min_reps", "max_reps", "quick")},
                         "blas_env": blas_env(args)},
            "verification": verification, "results": results,
            "targets": targets(results)}


def blas_env(args) -> str:
    """How the workers treated OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE."""
    if args.in_process:
        return "in-process: the caller's environment"
    if args.inherit_blas_env:
        return "inherited: " + (", ".join(f"{v}={os.environ[v]}" for v in BLAS_OVERRIDES
                                         if v in os.environ) or "neither set")
    return "reader: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed"


def targets(results: list[dict]) -> list[dict]:
    """The issue's targets, each with the measured value and whether it is met."""
    out = []

    def add(name, result, value, limit, higher_is_better=False):
        met = value >= limit if higher_is_better else value <= limit
        out.append({"target": name, "case": result["label"], "value": value, "limit": limit,
                    "met": bool(met)})

    conv = [r for r in results if r["kind"] == "conv" and "torch" in r["seconds"]]
    big = sorted({conv_flops(r["case"]) for r in conv})[-3:]
    for r in conv:
        sec = r["seconds"]
        ratio = sec["cnnlab"]["fwd_bwd"] / sec["torch"]["fwd_bwd"]
        if r["dtype"] == "float32":
            add("conv2d float32 fwd+bwd <= 1.5x torch", r, ratio, 1.5)
        else:
            add("conv2d float64 fwd+bwd <= 1.0x torch", r, ratio, 1.0)
        if conv_flops(r["case"]) in big:
            add(f"conv2d {r['dtype']} fwd+bwd >= 60% of bare-GEMM speed", r,
                sec["gemm"]["fwd_bwd"] / sec["cnnlab"]["fwd_bwd"], 0.6, True)
    for r in results:
        if r["kind"] in ("pool", "lenet") and "torch" in r["seconds"]:
            phase = "fwd_bwd" if r["kind"] == "pool" else "step"
            name, limit = (("max-pool 2x2 fwd+bwd float32 <= 1.0x torch", 1.0)
                           if r["kind"] == "pool"
                           else ("LeNet-5 training step float32 <= 1.5x torch", 1.5))
            add(name, r, r["seconds"]["cnnlab"][phase] / r["seconds"]["torch"][phase], limit)
    return out


def _progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _shapes(text: str, size: int) -> list[tuple[int, ...]]:
    shapes = [tuple(int(v) for v in part.split(",")) for part in text.split(";") if part.strip()]
    if any(len(s) != size for s in shapes):
        raise argparse.ArgumentTypeError(f"each shape needs {size} comma-separated integers")
    return shapes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round with short timing budgets (a smoke test)")
    parser.add_argument("--rounds", type=int, help="worker rounds per case (default 5; quick 1)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS/OpenMP/torch")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="skip PyTorch (also skipped when it is not installed)")
    parser.add_argument("--no-naive", action="store_true", help="skip the loop oracle")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory measurement of each conv case")
    parser.add_argument("--inherit-blas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the workers "
                             "(by default they are removed, as on a reader's machine)")
    parser.add_argument("--conv-shapes", type=lambda t: _shapes(t, 8), default=CONV_SHAPES,
                        help="'N,C_in,H,W,C_out,k,stride,pad;...'")
    parser.add_argument("--pool-shapes", type=lambda t: _shapes(t, 4), default=POOL_SHAPES,
                        help="'N,C,H,W;...' (2x2 max pooling)")
    parser.add_argument("--lenet-batch", type=int, default=LENET_BATCH, help="0 skips LeNet-5")
    parser.add_argument("--dtypes", type=lambda t: t.split(","), default=["float32", "float64"])
    parser.add_argument("--budget", type=float,
                        help="seconds of timed calls per measurement (default 0.3; quick 0.05)")
    parser.add_argument("--in-process", action="store_true",
                        help="run workers in this process (for tests; timings unreliable)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    budget, args.min_reps, args.max_reps = (0.05, 2, 5) if args.quick else (0.3, 5, 50)
    args.budget = budget if args.budget is None else args.budget
    if args.torch:
        import importlib.util
        args.torch = importlib.util.find_spec("torch") is not None
    args.command = " ".join(["python", "benchmarks/bench.py", *(sys.argv[1:] if argv is None
                                                                  else argv)])
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.worker:  # a worker answers with one JSON line on stdout
        print(json.dumps(run_worker(json.loads(args.worker))))
        return None
    data = run(args)
    print(table(data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    _progress(f"wrote {args.out}")
    return data


if __name__ == "__main__":
    # workloads.py from this folder, cnnlab from this checkout (not another installed copy)
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    main()
