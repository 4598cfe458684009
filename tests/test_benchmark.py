"""The benchmark machinery (benchmarks/bench.py) on tiny cases: what it writes, never how fast."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

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
            assert {"cnnlab", "textbook", "gemm", "torch"} <= r["seconds"].keys()
            for who in ("cnnlab", "textbook", "gemm", "torch"):
                assert r["seconds"][who].keys() == PHASES
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
    assert names.count("conv2d float32 fwd+bwd <= 2x torch") == 2
    assert names.count("conv2d float64 fwd+bwd faster than torch") == 2
    assert names.count("conv2d float32 fwd+bwd >= 50% of bare-GEMM speed") == 2
    assert {"max-pool 2x2 fwd+bwd float32 <= 2x torch",
            "LeNet-5 training step float32 <= 2x torch"} <= set(names)
    for t in saved["targets"]:
        assert t["met"] == (t["value"] >= t["limit"] if "%" in t["target"]
                            else t["value"] <= t["limit"])
    assert "x torch" in bench.table(saved)


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
    assert result["seconds"].keys() == {"cnnlab", "textbook", "gemm"}
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
