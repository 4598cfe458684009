"""Copy the web assets the book serves itself from node_modules/ into _vendor/.

The built HTML must work with no network, so MathJax, RequireJS and the
ipywidgets HTML manager are served from the book's own files:

* ``_vendor/static/`` is the book's ``html_static_path`` (copied to ``_static``);
  only the files pages load are copied (about 3 MB of MathJax, not 30 MB);
* the widget bundle's FontAwesome fonts (the play/pause icons) go to
  ``_static/widgets/``, where ``assets/widgets-compat.js`` points the bundle;
* the book's own ``assets/book.css`` and ``assets/book.js`` (every page) and the
  widget fixes ``assets/widgets-compat.*`` are copied beside them.

One line of the widget bundle is changed, see :func:`patch_widget_bundle`.
Run ``npm ci`` first; ``make vendor`` does both.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
VENDOR = ROOT / "_vendor"
# Fixes for running the ipywidgets manager beside MathJax 3 and the theme.
COMPAT = [ROOT / "assets" / "widgets-compat.js", ROOT / "assets" / "widgets-compat.css"]
# The book's own style sheet and script, on every page.
BOOK = [ROOT / "assets" / "book.css", ROOT / "assets" / "book.js"]

# (source relative to node_modules, destination relative to _vendor)
FILES = [
    ("mathjax/es5/tex-mml-chtml.js", "static/mathjax/tex-mml-chtml.js"),
    ("requirejs/require.js", "static/widgets/require.js"),
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "static/widgets/embed-amd.js"),
]
TREES = [
    ("mathjax/es5/output/chtml/fonts/woff-v2", "static/mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/input/tex/extensions", "static/mathjax/input/tex/extensions"),
    ("mathjax/es5/a11y", "static/mathjax/a11y"),
    ("mathjax/es5/ui", "static/mathjax/ui"),
]


# ``new Ajv()`` followed by the compilation of the widget-state schemas, in each of the two
# copies of the schema code the bundle holds.
AJV_FOR_WIDGET_SCHEMAS = re.compile(
    r"new\((\w{1,3})\(\)\)(?=[,;]\s*(?:\w{1,3}=)?\w{1,3}\.compile\()")


def patch_widget_bundle(path: Path) -> None:
    """Let the bundle's JSON-schema validator accept the widget schemas' union types.

    @jupyter-widgets/html-manager 1.0.15 compiles the widget-state schema, which types
    a buffer path item as ``["string", "number"]``, with a default Ajv 8; in its default
    strict mode Ajv then logs "strict mode: use allowUnionTypes to allow union type
    keyword" as a console warning on every page with widgets.  ``allowUnionTypes`` is the
    Ajv option for exactly such schemas; nothing else changes.
    """
    text = path.read_text(encoding="utf-8")
    text, n = AJV_FOR_WIDGET_SCHEMAS.subn(r"new(\1())({allowUnionTypes:!0})", text)
    if n != 2:
        raise SystemExit(f"vendor_assets: expected 2 Ajv constructions in {path.name}, found "
                         f"{n}: the html-manager version changed; review patch_widget_bundle")
    path.write_text(text, encoding="utf-8")


def main() -> int:
    missing = [src for src, _ in FILES + TREES if not (NODE / src).exists()]
    if missing:
        print(f"vendor_assets: missing in node_modules/: {', '.join(missing)}; run `npm ci` first",
              file=sys.stderr)
        return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for src, dst in FILES:
        (VENDOR / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE / src, VENDOR / dst)
    for src, dst in TREES:
        shutil.copytree(NODE / src, VENDOR / dst)
    patch_widget_bundle(VENDOR / "static/widgets/embed-amd.js")
    for path in COMPAT:
        shutil.copy2(path, VENDOR / "static" / "widgets" / path.name)
    for path in BOOK:
        shutil.copy2(path, VENDOR / "static" / path.name)
    # woff2 only: every browser that runs the widget bundle reads it
    for font in (NODE / "@jupyter-widgets/html-manager/dist").glob("*.woff2"):
        shutil.copy2(font, VENDOR / "static" / "widgets" / font.name)
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"vendor_assets: copied {size / 1e6:.1f} MB into {VENDOR.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
