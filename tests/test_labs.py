"""The labs graded by the real nbgrader: generate_assignment, autograde and export, nothing mocked.

For every lab (``book/labs/``), a course directory in a temporary folder gets the lab as its
source, ``nbgrader generate_assignment`` releases it, and submissions are written the way a
learner would: the release notebook with code typed into its solution cells.  ``nbgrader
autograde`` then grades them all and ``nbgrader export`` writes the grades table:

(a) the reference solutions earn full marks;
(b) the unmodified release notebook earns zero, and the run ends (every cell has a time limit);
(c) a submission with a typical planted bug loses exactly the points of the part it breaks;
(d) a submission that calls cnnlab's own implementation of a part earns nothing for that part.

Each lab takes 20–60 s (nbgrader starts a kernel per notebook); they are marked ``slow`` and run
in ``make test`` (``make unit``).  The release notebooks are also checked for leaks: no solution
line, no hidden test, no output.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_labs  # noqa: E402
import make_student  # noqa: E402

pytest.importorskip("nbgrader", reason="nbgrader comes with the 'grading' extra")
from nbgrader.api import Gradebook  # noqa: E402

LABS = make_labs.lab_notebooks()
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def points(nb) -> dict[str, float]:
    """``{grade_id: points}`` of the graded cells of a source notebook."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"]) for c in nb.cells
            if nbgrader_meta(c).get("grade")}


def reference_code(source: str) -> str:
    """A solution cell's code as a learner would type it: the markers dropped."""
    return "\n".join(line for line in source.splitlines() if not MARKER.match(line))


def solution_lines(nb) -> set[str]:
    """Substantial lines inside the solution regions of ``nb`` that occur nowhere else."""
    inside, outside = set(), []
    for cell in nb.cells:
        active = False
        for line in cell.source.splitlines():
            if MARKER.match(line):
                active = "BEGIN" in line
            elif active:
                inside.add(line.strip())
            else:
                outside.append(line.strip())
    outside_text = "\n".join(outside)  # e.g. a hint in the statement quotes a line
    return {s for s in inside if len(s) >= 12 and s not in outside_text}


def hidden_lines(nb) -> set[str]:
    lines = set()
    for cell in nb.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS",
                                cell.source, re.S):
            lines |= {s.strip() for s in block.splitlines() if len(s.strip()) >= 12}
    visible = "\n".join(HIDDEN.sub("", c.source) for c in nb.cells)
    return {s for s in lines if s not in visible}


# --- planted submissions -------------------------------------------------------------------------
# Each: {solution grade_id: the code typed in that cell}, and the graded cells it loses (0 points).
# Every other graded cell keeps its full points.
CONV_GATHER_UNFLIPPED = '''
def conv_input_grad(dout, weight, x_shape, stride=1, padding=0):
    # gather: cross-correlate the zero-dilated, zero-padded dout with the kernel, not rotated
    n, c_in, height, width = x_shape
    c_out, _, kh, kw = weight.shape
    h_out, w_out = dout.shape[2:]
    dilated = np.zeros((n, c_out, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1))
    dilated[:, :, ::stride, ::stride] = dout
    hp, wp = height + 2 * padding, width + 2 * padding
    full = np.zeros((n, c_out, hp + kh - 1, wp + kw - 1))
    full[:, :, kh - 1:kh - 1 + dilated.shape[2], kw - 1:kw - 1 + dilated.shape[3]] = dilated
    dxp = np.zeros((n, c_in, hp, wp))
    for i in range(hp):
        for j in range(wp):
            window = full[:, :, i:i + kh, j:j + kw]
            dxp[:, :, i, j] = np.einsum("nopq,ocpq->nc", window, weight)
    return dxp[:, :, padding:padding + height, padding:padding + width]
'''
MAX_POOL_MASK = {
    "lab3-max-forward": '''
def max_pool_forward(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    h_out, w_out = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = np.empty((*x.shape[:2], h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out, (x, k, s, out)
''',
    "lab3-max-backward": '''
def max_pool_backward(dout, cache):
    x, k, s, out = cache
    dx = np.zeros_like(x)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            mask = window == out[:, :, i, j][:, :, None, None]  # every tied maximum
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += mask * dout[:, :, i, j][:, :, None, None]
    return dx
'''}
SOFTMAX_UNSHIFTED = {
    "lab4-softmax": '''
def softmax(logits):
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)
''',
    "lab4-loss": '''
def cross_entropy(logits, labels):
    return float(-np.log(softmax(logits)[np.arange(len(labels)), labels]).mean())
'''}
SOFTMAX_HANGS = {"lab4-softmax": '''
def softmax(logits):
    while True:  # never returns
        pass
'''}
BATCHNORM_NO_EPS = '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5):
    per_channel = (1, -1, 1, 1)
    if training:
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        m = x.size // x.shape[1]
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    inv_std = 1.0 / np.sqrt(var)  # no eps
    x_hat = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)
    out = gamma.reshape(per_channel) * x_hat + beta.reshape(per_channel)
    return out, (x_hat, gamma, inv_std, training), new_mean, new_var
'''
LINEAR_BIAS_AVERAGED = '''
class Linear:
    def __init__(self, in_features, out_features, rng, dtype=np.float32):
        scale = np.sqrt(2.0 / in_features)
        weight = rng.standard_normal((out_features, in_features)) * scale
        self.params = {"weight": weight.astype(dtype), "bias": np.zeros(out_features, dtype)}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, dout):
        self.grads["weight"] = dout.T @ self.x
        self.grads["bias"] = dout.mean(axis=0)  # averaged over the batch
        return dout @ self.params["weight"]
'''
CONV_LAYER_FROM_CNNLAB = '''
import cnnlab


class Conv2d:
    def __init__(self, in_channels, out_channels, kernel_size, padding, rng, dtype=np.float32):
        self.layer = cnnlab.Conv2d(in_channels, out_channels, kernel_size, padding=padding,
                                   rng=rng, dtype=dtype)
        self.params = {"weight": self.layer.weight.data, "bias": self.layer.bias.data}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def forward(self, x):
        return self.layer.forward(x)

    def backward(self, dout):
        self.layer.zero_grad()
        dx = self.layer.backward(dout)
        self.grads = {"weight": self.layer.weight.grad, "bias": self.layer.bias.grad}
        return dx


class MaxPool2d:
    def __init__(self, kernel_size):
        self.params, self.grads = {}, {}
        self.layer = cnnlab.MaxPool2d(kernel_size)

    def forward(self, x):
        return self.layer.forward(x)

    def backward(self, dout):
        return self.layer.backward(dout)
'''

RESIDUAL_NO_SKIP_GRADIENT = '''
def residual_backward(dout, cache):
    conv1, bn1, relu1, conv2, bn2, shortcut, relu_out = cache
    grads = {}
    g = relu_backward(dout, relu_out)
    d, grads["g2"], grads["b2"] = bn_backward(g, bn2)
    d, grads["w2"], _ = conv2d_backward(d, conv2)
    d = relu_backward(d, relu1)
    d, grads["g1"], grads["b1"] = bn_backward(d, bn1)
    dx, grads["w1"], _ = conv2d_backward(d, conv1)
    if shortcut is not None:
        conv_s, bn_s = shortcut
        d, grads["gs"], grads["bs"] = bn_backward(g, bn_s)
        d, grads["ws"], _ = conv2d_backward(d, conv_s)
    return dx, grads  # the gradient through the shortcut is never added
'''
RESIDUAL_FROM_CNNLAB = '''
from cnnlab.blocks import BasicBlock


def residual_forward(x, params, stride=1):
    block = BasicBlock(x.shape[1], params["w1"].shape[0], stride, rng=0, dtype=x.dtype)
    block.body[0].weight.data, block.body[3].weight.data = params["w1"], params["w2"]
    block.body[1].weight.data, block.body[1].bias.data = params["g1"], params["b1"]
    block.body[4].weight.data, block.body[4].bias.data = params["g2"], params["b2"]
    if block.shortcut is not None:
        block.shortcut[0].weight.data = params["ws"]
        block.shortcut[1].weight.data, block.shortcut[1].bias.data = params["gs"], params["bs"]
    return block.forward(x), block
'''

SUBMISSIONS = {
    "conv_forward": {
        "bug-stride-ignored": ({"lab1-loops": None}, {"conv-loops-general"}),
        "calls-cnnlab": ({"lab1-im2col-conv": "from cnnlab.conv import conv2d as "
                                              "conv2d_im2col"}, {"conv-im2col"}),
    },
    "conv_backward": {
        "bug-dx-unflipped": ({"lab2-input": CONV_GATHER_UNFLIPPED},
                             {"conv-dx-basic", "conv-dx-general"}),
        "bug-db-averaged": ({"lab2-bias": "def conv_bias_grad(dout):\n"
                                          "    return dout.sum(axis=(0, 2, 3)) / len(dout)"},
                            {"conv-db"}),
        "calls-cnnlab": ({"lab2-weight": '''
from cnnlab.conv import conv2d_backward_naive


def conv_weight_grad(dout, x, kernel_size, stride=1, padding=0):
    weight = np.zeros((dout.shape[1], x.shape[1], *kernel_size))
    return conv2d_backward_naive(dout, x, weight, None, stride, padding)[1]
'''}, {"conv-dw"}),
    },
    "pooling": {
        "bug-ties-all-maxima": (MAX_POOL_MASK, {"maxpool-ties"}),
        "calls-cnnlab": ({"lab3-avg-backward": '''
from cnnlab.pool import avg_pool2d_backward_naive as backward


def avg_pool_backward(dout, cache):
    x_shape, k, s = cache
    return backward(dout, np.zeros(x_shape), k, s)
'''}, {"avgpool-backward"}),
    },
    "softmax_cross_entropy": {
        "bug-no-max-shift": (SOFTMAX_UNSHIFTED, {"ce-stable"}),
        "calls-cnnlab": ({"lab4-grad": '''
from cnnlab import losses


def cross_entropy_grad(logits, labels):
    return losses.cross_entropy_backward(losses.cross_entropy_forward(logits, labels)[1])
'''}, {"ce-grad", "ce-stable"}),
    },
    "batch_norm": {
        "bug-no-eps": ({"lab5-forward": BATCHNORM_NO_EPS}, {"bn-train", "bn-eval"}),
        "calls-cnnlab": ({"lab5-backward": '''
from cnnlab.norm import batch_norm_backward


def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std, training = cache
    return batch_norm_backward(dout, {"op": "batch_norm", "x_hat": x_hat, "gamma": gamma,
                                      "inv_std": inv_std, "training": training,
                                      "affine": True})
'''}, {"bn-backward-params", "bn-backward-dx"}),
    },
    "training_lenet5": {
        "bug-bias-averaged": ({"lab6-linear": LINEAR_BIAS_AVERAGED}, {"linear"}),
        # a layer that delegates to cnnlab's: no points for it, nor for what is built from it
        "calls-cnnlab": ({"lab6-conv-pool": CONV_LAYER_FROM_CNNLAB},
                         {"conv-pool-layers", "sequential-lenet5", "lenet5-accuracy"}),
    },
    "residual_block": {
        "bug-no-skip-gradient": ({"lab7-backward": RESIDUAL_NO_SKIP_GRADIENT},
                                 {"res-backward-dx"}),
        # the backward tests run the learner's forward pass too: nothing left
        "calls-cnnlab": ({"lab7-forward": RESIDUAL_FROM_CNNLAB},
                         {"res-forward", "res-backward-params", "res-backward-dx"}),
    },
}


def stride_ignored(source: str) -> str:
    """Lab 1's reference loops with every window starting at (i, j), whatever the stride."""
    code = reference_code(source)
    assert "top, left = i * stride, j * stride" in code
    return code.replace("top, left = i * stride, j * stride", "top, left = i, j")


def submission(release, source, overrides: dict[str, str | None]):
    """The release notebook with code in its solution cells: the reference, or an override."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in source.cells}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        code = overrides.get(grade_id, reference_code(by_id[grade_id].source))
        cell.source = stride_ignored(by_id[grade_id].source) if code is None else code.strip()
    return nb


def write_submission(course: Path, student: str, lab: str, nb) -> None:
    folder = course / "submitted" / student / lab
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{lab}.ipynb")


def scores(course: Path, lab: str, student: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(lab, lab, student)
        return {grade.name: grade.auto_score for grade in notebook.grades}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """One course with every lab generated, shared by the leak checks."""
    course = tmp_path_factory.mktemp("labs") / "course"
    names = make_labs.write_course(course, LABS)
    make_labs.generate(names, course)
    return course


def test_the_labs_are_in_the_book():
    assert [p.stem for p in LABS] == ["conv_forward", "conv_backward", "pooling",
                                      "softmax_cross_entropy", "batch_norm",
                                      "training_lenet5", "residual_block"]
    assert set(SUBMISSIONS) == {p.stem for p in LABS}  # every lab has planted submissions


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_source_notebook_is_well_formed_for_nbgrader(path):
    nb = nbformat.read(path, as_version=4)
    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "nbgrader grade ids must be unique"
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            assert cell.source.count("### BEGIN SOLUTION") >= 1, meta["grade_id"]
            assert cell.source.count("### BEGIN SOLUTION") == cell.source.count(
                "### END SOLUTION"), meta["grade_id"]
            assert "hide-input" in cell.metadata.get("tags", [])
            assert cell.metadata["mystnb"]["code_prompt_show"] == "Show the reference solution"
        if meta.get("grade"):
            assert meta["points"] > 0 and meta["locked"], meta["grade_id"]
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{meta['grade_id']}: no hidden test"
            word = "point" if meta["points"] == 1 else "points"
            assert f"({meta['points']} {word})" in cell.source.splitlines()[0], meta["grade_id"]
    table = "".join(c.source for c in nb.cells[:3] if c.cell_type == "markdown")
    assert f"| | total | {int(sum(points(nb).values()))} |" in table, "points table total"


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_release_has_no_solution_no_hidden_test_no_output(path, released):
    source = nbformat.read(path, as_version=4)
    release = nbformat.read(released / "release" / path.stem / path.name, as_version=4)
    text = "\n".join(c.source for c in release.cells)
    leaks = sorted(line for line in solution_lines(source) if line in text)
    assert not leaks, f"solution lines in the release of {path.stem}:\n" + "\n".join(leaks)
    hidden = sorted(line for line in hidden_lines(source) if line in text)
    assert not hidden, f"hidden tests in the release of {path.stem}:\n" + "\n".join(hidden)
    assert "BEGIN HIDDEN" not in text and "BEGIN SOLUTION" not in text
    assert all(not c.get("outputs") for c in release.cells if c.cell_type == "code")
    stubs = [c for c in release.cells if nbgrader_meta(c).get("solution")]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)
    assert solution_lines(source) and hidden_lines(source), "the leak check has nothing to find"
    # the student edition (make student) strips the labs as nbgrader does
    student = make_student.lab_student_notebook(source)
    assert [c.source for c in student.cells] == [c.source for c in release.cells]


@pytest.mark.slow
@pytest.mark.parametrize("lab", list(SUBMISSIONS))
def test_autograde(lab, tmp_path):
    path = ROOT / "book" / "labs" / f"{lab}.ipynb"
    course = tmp_path / "course"
    make_labs.generate(make_labs.write_course(course, [path]), course)
    source = nbformat.read(path, as_version=4)
    release = nbformat.read(course / "release" / lab / f"{lab}.ipynb", as_version=4)
    full = points(source)
    expected = {"reference": full, "release": {gid: 0.0 for gid in full}}
    write_submission(course, "reference", lab, submission(release, source, {}))
    write_submission(course, "release", lab, release)
    for student, (overrides, lost) in SUBMISSIONS[lab].items():
        assert lost <= set(full), lost - set(full)
        write_submission(course, student, lab, submission(release, source, overrides))
        expected[student] = {gid: 0.0 if gid in lost else p for gid, p in full.items()}

    run = make_labs.nbgrader("autograde", lab, "--create", course=course, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    got = {student: scores(course, lab, student) for student in expected}
    for student, want in expected.items():
        assert got[student] == want, f"{lab}, {student}: got {got[student]}, want {want}"

    run = make_labs.nbgrader("export", course=course, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(course / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(expected)
    for student, want in expected.items():
        row = rows[student]
        assert row["assignment"] == lab
        assert float(row["raw_score"]) == sum(want.values()), (student, row)
        assert float(row["score"]) == sum(want.values()), (student, row)
        assert float(row["max_score"]) == sum(full.values()), (student, row)


@pytest.mark.slow
def test_a_submission_that_hangs_is_stopped_by_the_cell_time_limit(tmp_path):
    """A function that never returns costs the cells that call it, and grading goes on."""
    lab = "softmax_cross_entropy"
    path = ROOT / "book" / "labs" / f"{lab}.ipynb"
    course = tmp_path / "course"
    make_labs.generate(make_labs.write_course(course, [path]), course)
    source = nbformat.read(path, as_version=4)
    release = nbformat.read(course / "release" / lab / f"{lab}.ipynb", as_version=4)
    write_submission(course, "hangs", lab, submission(release, source, SOFTMAX_HANGS))
    run = make_labs.nbgrader("autograde", lab, "--create", "--Execute.timeout=3",
                             course=course, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "CellTimeoutError" in (course / "autograded" / "hangs" / lab /
                                  f"{lab}.ipynb").read_text(encoding="utf-8")
    full = points(source)
    lost = {"softmax", "ce-grad", "ce-stable"}  # the loss does not call softmax
    assert scores(course, lab, "hangs") == {g: 0.0 if g in lost else p for g, p in full.items()}


def test_make_labs_writes_the_course(tmp_path):
    course = tmp_path / "course"
    names = make_labs.write_course(course, LABS[:1])
    assert names == [LABS[0].stem]
    assert (course / "source" / names[0] / LABS[0].name).read_bytes() == LABS[0].read_bytes()
    config = (course / "nbgrader_config.py").read_text()
    assert f"c.Execute.timeout = {make_labs.CELL_TIMEOUT}" in config
    assert 'c.CourseDirectory.course_id = "cnnlab"' in config
    (course / "nbgrader_config.py").write_text(config + "c.Exchange.root = '/x'\n")
    make_labs.write_course(course, LABS[:1])  # run again: the edited configuration stays
    assert (course / "nbgrader_config.py").read_text().endswith("c.Exchange.root = '/x'\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        make_labs.write_course(tmp_path / "other", LABS[:1])


# --- the instructor guide's commands, as written -------------------------------------------------
GUIDE = ROOT / "book" / "instructor_guide.ipynb"
BLOCKS = {
    "course": "# the instructor, in a clone of the repository",
    "one machine": "# the instructor, on one machine",
    "administrator": "# the hub's administrator, once",
    "release": "# the instructor: release",
    "learner": "# each learner (or the Assignments tab: Fetch, then Submit)",
    "grade": "# the instructor: collect, grade, return the feedback",
    "feedback": "# each learner\n",
}


def guide_blocks() -> dict[str, str]:
    """The guide's bash blocks, by the name of their first line in `BLOCKS`."""
    nb = nbformat.read(GUIDE, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    found = {}
    for name, first in BLOCKS.items():
        matching = [b for b in blocks if b.startswith(first)]
        assert len(matching) == 1, f"the guide has {len(matching)} blocks starting {first!r}"
        found[name] = matching[0]
    return found


@pytest.mark.slow
def test_the_instructor_guide_commands(tmp_path):
    """Each command of the guide's nbgrader walk-through, run as written in a fresh home."""
    import os
    import shutil
    import subprocess

    blocks = guide_blocks()
    home = tmp_path / "home"
    home.mkdir()
    env = {**make_labs.nbgrader_env(), "HOME": str(home)}

    def bash(block: str, cwd: Path) -> str:
        run = subprocess.run(["bash", "-e", "-c", block], cwd=cwd, env=env, text=True,
                             capture_output=True)
        assert run.returncode == 0, f"{block}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        return run.stdout

    lab = "conv_forward"
    source = nbformat.read(ROOT / "book" / "labs" / f"{lab}.ipynb", as_version=4)
    total = sum(points(source).values())

    # on one machine: alice's notebook arrives by hand
    completed = submission(make_student.lab_student_notebook(source), source, {})
    (home / "inbox" / "alice").mkdir(parents=True)
    nbformat.write(completed, home / "inbox" / "alice" / f"{lab}.ipynb")
    bash(blocks["course"], ROOT)
    fresh_course = tmp_path / "fresh-course"  # for the hub, below (saves making it again)
    shutil.copytree(home / "cnnlab-course", fresh_course)
    bash(blocks["one machine"], home)
    course = home / "cnnlab-course"
    assert (course / "feedback" / "alice" / lab / f"{lab}.html").exists()
    with open(course / "grades.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["assignment"] == lab]
    assert [(r["student_id"], float(r["raw_score"]), float(r["max_score"])) for r in rows] \
        == [("alice", total, total)]

    # on a hub, in another home and course: through the exchange.  The administrator's block
    # needs root and /srv: emulated by an exchange in the home, set in its nbgrader config.
    assert "/srv/nbgrader/exchange" in blocks["administrator"]
    home = tmp_path / "hub"
    exchange = home / "exchange"
    exchange.mkdir(parents=True)
    os.chmod(exchange, 0o777)
    (home / ".jupyter").mkdir()
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\n")
    env["HOME"] = str(home)
    shutil.copytree(fresh_course, home / "cnnlab-course")  # what the "course" block made
    lines = blocks["learner"].splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("# ... complete"))
    fetch, submit = "\n".join(lines[:at]), "\n".join(lines[at + 1:])
    bash(blocks["release"], home)
    bash(fetch, home)
    fetched = home / lab / f"{lab}.ipynb"
    nbformat.write(submission(nbformat.read(fetched, as_version=4), source, {}), fetched)
    bash(submit, home)
    bash(blocks["grade"], home)
    bash(blocks["feedback"], home)
    assert list((home / lab / "feedback").glob(f"*/{lab}.html")), "no feedback fetched"
    course = home / "cnnlab-course"
    with open(course / "grades.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["assignment"] == lab]
    assert len(rows) == 1 and rows[0]["student_id"] != "alice", rows  # the hub's user
    assert float(rows[0]["raw_score"]) == float(rows[0]["max_score"]) == total, rows
