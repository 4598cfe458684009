"""Make the nbgrader course of the labs and release them: ``make labs``.

The lab notebooks of the book (``book/labs/*.ipynb``, the "Labs" part of ``_toc.yml``) are
nbgrader *source* notebooks: solution regions between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, graded test cells with points and ``### BEGIN HIDDEN TESTS`` regions, and
nbgrader's cell metadata.  This tool writes a course directory (default ``_labs/``, git-ignored)::

    _labs/
      nbgrader_config.py           course id and the per-cell time limit
      source/<lab>/<lab>.ipynb     the book's lab notebook, as it is
      release/<lab>/<lab>.ipynb    what learners get: no solution code, no hidden tests, no outputs
      gradebook.db                 nbgrader's database: the labs, their graded cells and points

and runs nbgrader's ``generate_assignment`` on every lab (through nbgrader's Python API, in one
process: the command would start nbgrader once per lab).  An instructor then hands out
``release/`` (by hand, or with ``nbgrader release_assignment`` on a JupyterHub), collects the
submissions into ``submitted/<student>/<lab>/`` and runs ``nbgrader autograde``; the instructor
guide (``book/instructor_guide.ipynb``) walks through it.

nbgrader comes with the ``grading`` extra (``pip install -e ".[grading]"``; ``make labs``
installs it).  It runs ``alembic`` by name, so this tool puts its own interpreter's ``bin``
folder first on ``PATH`` when it calls nbgrader.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute_notebooks import toc_notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "_labs"
COURSE_ID = "cnnlab"
# Seconds one cell of a submission may run when nbgrader executes it; a cell that runs longer is
# interrupted and counts as failed, and grading goes on with the next cell.  The slowest cell of
# the reference solutions, the training run of lab 6, takes about 15 s on 2 cores; the lab allows
# a learner's training 120 s.
CELL_TIMEOUT = 300
STAMP = ".cnnlab-course"  # marks a course directory this tool may rewrite

CONFIG = f'''\
# nbgrader configuration of the CNN Lab course, written by tools/make_labs.py.
c = get_config()  # noqa: F821 (nbgrader's config loader defines it)
c.CourseDirectory.course_id = "{COURSE_ID}"
# Seconds each cell may run while nbgrader executes a submission; then it is interrupted, counts
# as failed, and grading continues with the next cell.
c.Execute.timeout = {CELL_TIMEOUT}
# On a JupyterHub, release_assignment, collect and the learners' Assignments tab share an
# exchange directory; nbgrader's default is this one (see the instructor guide).
# c.Exchange.root = "/srv/nbgrader/exchange"
'''


def lab_notebooks() -> list[Path]:
    """The labs of the book, in ``_toc.yml`` order (the notebooks under ``book/labs/``)."""
    return [p for p in toc_notebooks() if p.parent == ROOT / "book" / "labs"]


def nbgrader_env() -> dict[str, str]:
    """The environment nbgrader runs in: this interpreter's ``bin`` first on ``PATH``."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("MPLBACKEND", None)
    return env


def nbgrader(*args: str, course: Path = COURSE, check: bool = True,
             quiet: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in the course directory ``course``."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    return subprocess.run(cmd, cwd=course, env=nbgrader_env(), check=check, text=True,
                          capture_output=quiet)


def write_course(course: Path = COURSE, labs: list[Path] | None = None) -> list[str]:
    """Write the course directory with the labs as sources; return the lab names.

    An existing course directory written by this tool keeps its configuration (which the
    instructor may have edited), submissions, grades and database; only the sources are
    replaced.
    """
    course = Path(course)
    if course.exists() and any(course.iterdir()) and not (course / STAMP).exists():
        raise FileExistsError(f"{course} exists and was not written by {Path(__file__).name}; "
                              f"not writing into it")
    course.mkdir(parents=True, exist_ok=True)
    (course / STAMP).write_text("Written by tools/make_labs.py (an nbgrader course).\n")
    if not (course / "nbgrader_config.py").exists():
        (course / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    names = []
    for notebook in labs if labs is not None else lab_notebooks():
        name = notebook.stem
        folder = course / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copy2(notebook, folder / notebook.name)
        names.append(name)
    return names


def generate(names: list[str], course: Path = COURSE) -> list[Path]:
    """``generate_assignment`` for each lab; return the release notebooks.

    Runs nbgrader's own ``generate_assignment`` through its Python API (``NbGraderAPI``, what
    the command and the Formgrader call), in this process: the same conversion as
    ``nbgrader generate_assignment <lab>`` in the course directory, without starting nbgrader
    once per lab.  The course's ``nbgrader_config.py`` is read as the command reads it.
    """
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    course = Path(course).resolve()
    os.environ["PATH"] = nbgrader_env()["PATH"]  # nbgrader runs `alembic` for a new database
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    api = NbGraderAPI(config=config)
    released = []
    for name in names:
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n"
                               f"{result.get('error', '')}\n{result.get('log', '')}")
        released.append(course / "release" / name / f"{name}.ipynb")
    return released


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=COURSE,
                        help=f"the course directory (default: {COURSE.name}/)")
    args = parser.parse_args(argv)
    try:
        names = write_course(args.course)
        generate(names, args.course)
    except (FileExistsError, RuntimeError) as exc:
        print(f"make_labs: {exc}", file=sys.stderr)
        return 1
    for name in names:
        print(f"released {name}: {args.course}/release/{name}/{name}.ipynb")
    print(f"\nThe course is in {args.course}/: hand out release/, collect submissions into "
          f"submitted/<student>/<lab>/, then `nbgrader autograde <lab>` there.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
