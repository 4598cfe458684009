"""Copy the web assets the book serves itself from node_modules/ into _vendor/.

The built HTML must work with no network, so MathJax, RequireJS and the
ipywidgets HTML manager are served from the book's own files:

* ``_vendor/static/`` is the book's ``html_static_path`` (copied to ``_static``);
  only the files pages load are copied (about 3 MB of MathJax, not 30 MB);
* ``_vendor/extra/`` is its ``html_extra_path`` (copied to the output root):
  the widget bundle asks for its FontAwesome fonts (the play/pause icons)
  relative to the *page*, at ``@jupyter-widgets/...``, so the fonts are placed
  next to the chapters in ``book/``.

Run ``npm ci`` first; ``make vendor`` does both.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
VENDOR = ROOT / "_vendor"
# Fixes for running the ipywidgets manager beside MathJax 3 and the theme's FontAwesome.
COMPAT = [ROOT / "assets" / "widgets-compat.js", ROOT / "assets" / "widgets-compat.css"]
PAGE_DIRS = ["book"]  # folders of the built site that hold pages with widgets
FONT_DIRS = ["@jupyter-widgets/html-manager/dist", "@jupyter-widgets"]

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
    for path in COMPAT:
        shutil.copy2(path, VENDOR / "static" / "widgets" / path.name)
    fonts = [p for p in (NODE / "@jupyter-widgets/html-manager/dist").iterdir()
             if p.suffix in (".woff2", ".woff", ".ttf")]
    for page_dir in PAGE_DIRS:
        for font_dir in FONT_DIRS:
            target = VENDOR / "extra" / page_dir / font_dir
            target.mkdir(parents=True, exist_ok=True)
            for font in fonts:
                shutil.copy2(font, target / font.name)
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"vendor_assets: copied {size / 1e6:.1f} MB into {VENDOR.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
