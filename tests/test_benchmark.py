"""The benchmark machinery (benchmarks/bench.py) on tiny cases: what it writes, never how fast."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench.py"
PHASES = {"forward", "backward", "fwd_bwd"}
TINY = ["--quick", "--budget", "0", "--conv-shapes", "2,2,6,6,3,3,1,1;2,2,7,7,3,3,2,1",
        "--pool-shapes", "2,2,4,4", "--lenet-batch", "2"]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))  # bench.py imports workloads.py beside it
    return importlib.import_module("bench")


def test_in_process_run_writes_the_documented_json(bench, torch, tmp_path):
    out = tmp_path / "result.json"
    data = bench.main([*TINY, "--in-process", "--out", str(out)])
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(data))
    assert {"schema", "date", "command", "machine", "settings", "verification", "results",
            "targets"} <= saved.keys()
    machine = saved["machine"]
    assert machine["cpu_model"] and machine["logical_cpus"] >= 1 and machine["threads"] == 2
    assert machine["numpy"] and machine["numpy_blas"]["name"] and machine["torch"]
    assert saved["command"].startswith("python benchmarks/bench.py --quick")

    kinds = [r["kind"] for r in saved["results"]]
    assert kinds == ["conv"] * 4 + ["pool", "lenet"]
    for r in saved["results"]:
        if r["kind"] == "conv":
            assert {"cnnlab", "textbook", "gemm", "torch", "parts"} <= r["seconds"].keys()
            for who in ("cnnlab", "textbook", "gemm", "torch"):
                assert r["seconds"][who].keys() == PHASES
            assert tuple(r["seconds"]["parts"]) == workloads_parts()
        elif r["kind"] == "pool":
            assert r["seconds"]["cnnlab"].keys() == r["seconds"]["torch"].keys() == PHASES
        else:
            assert r["seconds"]["cnnlab"].keys() == r["seconds"]["torch"].keys() == {"step"}
        times = [t for who in r["seconds"].values() for t in who.values()]
        assert all(isinstance(t, float) and t > 0 for t in times)
        assert r["label"] in saved["verification"]["max_relative_error"]
    # the loop oracle runs once, on the case with the fewest multiply-adds only
    naive = [r["label"] for r in saved["results"] if "naive" in r["seconds"]]
    assert naive == ["conv 2,2,7,7,3,3,2,1 float32", "conv 2,2,7,7,3,3,2,1 float64"]

    names = [t["target"] for t in saved["targets"]]
    assert names.count("conv2d float32 fwd+bwd <= 1.5x torch") == 2
    assert names.count("conv2d float64 fwd+bwd <= 1.0x torch") == 2
    # the three largest of the two shapes x two dtypes: at most three of the four cases
    gemm = [t for t in saved["targets"] if "bare-GEMM" in t["target"]]
    assert len(gemm) == 4 and all(t["limit"] == 0.6 for t in gemm)
    assert {"max-pool 2x2 fwd+bwd float32 <= 1.0x torch",
            "LeNet-5 training step float32 <= 1.5x torch"} <= set(names)
    for t in saved["targets"]:
        assert t["met"] == (t["value"] >= t["limit"] if "%" in t["target"]
                            else t["value"] <= t["limit"])
    assert "x torch" in bench.table(saved) and "where cnnlab fwd+bwd goes" in bench.table(saved)
    # peak memory of one conv forward+backward, both sides, on Linux
    for r in saved["results"]:
        if r["kind"] == "conv":
            assert {"cnnlab", "torch"} == r["peak_bytes"].keys()
            assert all(isinstance(b, int) and b >= 0 for b in r["peak_bytes"].values())
    assert "peak memory of one fwd+bwd" in bench.table(saved)
    assert saved["settings"]["blas_env"] == "in-process: the caller's environment"
    pools = machine["threadpoolctl"]
    assert any(p["internal_api"] == "openblas" and p["architecture"] for p in pools)


def workloads_parts():
    return importlib.import_module("workloads").CONV_PARTS


# (shape, the column order forced on it): every order, strided (phased batch-last) too
PARTS_CASES = {"batch-last": ("3,2,9,9,4,3,1,1", {"batch_last": True, "wide": False}),
               "wide": ("3,2,9,9,4,3,1,1", {"batch_last": False, "wide": True}),
               "plain": ("3,2,9,9,4,3,1,1", {"batch_last": False, "wide": False}),
               "phased": ("2,3,8,9,5,3,2,1", {"batch_last": True, "wide": False}),
               "plain-strided": ("2,3,8,9,5,3,2,1", {"batch_last": False, "wide": False})}


@pytest.mark.parametrize("shape, order", PARTS_CASES.values(), ids=PARTS_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_parts_are_the_steps_of_the_kernel(bench, monkeypatch, shape, order, dtype):
    """Run in order, the timed parts compute exactly what conv2d_forward/backward return."""
    import cnnlab.conv
    import workloads
    from cnnlab import _im2col
    from cnnlab.conv import conv2d_backward, conv2d_forward
    monkeypatch.setattr(cnnlab.conv, "make_plan",
                        lambda *args: _im2col.make_plan(*args)._replace(**order))
    case = dict(zip(workloads.CONV_KEYS, map(int, shape.split(",")), strict=True))
    x, weight, bias, dout = workloads.conv_data(case, dtype)
    out, cache = conv2d_forward(x, weight, bias, case["stride"], case["pad"])
    dx, dweight, dbias = conv2d_backward(dout, cache)
    steps = workloads.conv_parts_setup(case, dtype)
    assert tuple(steps) == workloads.CONV_PARTS
    results = {name: step() for name, step in steps.items()}  # in the kernel's order
    np.testing.assert_array_equal(results["to_nchw"], out)
    np.testing.assert_array_equal(results["dbias"], dbias)
    np.testing.assert_array_equal(results["gemm_dweight"].reshape(weight.shape), dweight)
    np.testing.assert_array_equal(results["col2im"], dx)


def test_worker_processes_without_torch(tmp_path):
    out = tmp_path / "numpy_only.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--budget", "0", "--no-torch", "--no-naive",
         "--conv-shapes", "2,1,5,5,2,3,1,0", "--pool-shapes", "", "--lenet-batch", "0",
         "--dtypes", "float32", "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    (result,) = data["results"]
    assert result["seconds"].keys() == {"cnnlab", "textbook", "gemm", "parts"}
    assert data["verification"] is None and data["targets"] == []
    assert "torch" not in data["machine"] and data["machine"]["env"]["OMP_NUM_THREADS"] == "2"


def test_verification_catches_a_wrong_kernel(bench, torch, monkeypatch):
    import workloads
    real = workloads.textbook_forward

    def off_by_one(*args):
        out, cache = real(*args)
        return out + 1, cache
    monkeypatch.setattr(workloads, "textbook_forward", off_by_one)
    with pytest.raises(RuntimeError, match="verification failed: textbook"):
        workloads.verify({"threads": 1, "items": [
            {"kind": "conv",
             "case": dict(zip(bench.CONV_KEYS, (2, 1, 5, 5, 2, 3, 1, 0), strict=True)),
             "dtype": "float64"}]})


def test_workers_run_without_the_blas_overrides_unless_asked(bench, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    reader = bench.worker_env(2, inherit_blas_env=False)
    assert not {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} & reader.keys()
    assert reader["OMP_NUM_THREADS"] == reader["OPENBLAS_NUM_THREADS"] == "2"
    kept = bench.worker_env(2, inherit_blas_env=True)
    assert kept["OPENBLAS_CORETYPE"] == "Haswell" and kept["OPENBLAS_L2_SIZE"] == "512"
    assert bench.blas_env(bench.parse_args(["--quick"])).startswith("reader:")
    assert bench.blas_env(bench.parse_args(["--inherit-blas-env"])) == (
        "inherited: OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=512")


def test_a_worker_reports_the_kernels_it_ran(tmp_path):
    """A spawned worker without the overrides records its OpenBLAS kernel set and env."""
    out = tmp_path / "kernels.json"
    env = dict(__import__("os").environ, OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="512")
    for extra, expect_env in (([], False), (["--inherit-blas-env"], True)):
        run = subprocess.run(
            [sys.executable, str(BENCH), "--quick", "--budget", "0", "--no-torch", "--no-naive",
             "--no-memory", "--conv-shapes", "1,1,4,4,1,3,1,0", "--pool-shapes", "",
             "--lenet-batch", "0", "--dtypes", "float32", "--out", str(out), *extra],
            capture_output=True, text=True, cwd=tmp_path, env=env)
        assert run.returncode == 0, run.stderr
        machine = json.loads(out.read_text(encoding="utf-8"))["machine"]
        assert ("OPENBLAS_CORETYPE" in machine["env"]) == expect_env
        openblas = [p for p in machine["threadpoolctl"] if p["internal_api"] == "openblas"]
        assert openblas and openblas[0]["architecture"] == machine["openblas_core"]
        if expect_env:
            assert machine["openblas_core"] == "Haswell"


@pytest.mark.parametrize("who", ["cnnlab", "torch"])
def test_peak_memory_counts_what_a_pass_allocates(bench, who, request):
    """In a worker process of its own, as bench.py measures it."""
    if who == "torch":
        request.getfixturevalue("torch")
    case = dict(zip(bench.CONV_KEYS, (8, 16, 32, 32, 16, 3, 1, 1), strict=True))
    x_bytes = 8 * 16 * 32 * 32 * 8  # float64: the output, dx alone are this large
    for _ in range(3):
        peak = bench.spawn({"kind": "memory", "who": who, "case": case, "dtype": "float64",
                            "side": "torch" if who == "torch" else "numpy", "threads": 1},
                           threads=1)["peak_bytes"]
        assert x_bytes <= peak < 200 * x_bytes
