"""Sphinx extension of the book (``_config.yml``: ``sphinx.local_extensions``).

Each function fixes one thing at its cause, for the versions the ``book`` extra installs
(Jupyter Book 1.0.4, Sphinx 7.4, sphinx-book-theme 1.1.4):

* :func:`dedupe_inline_scripts` — Sphinx 7.4 writes every inline ``<script>`` that an
  extension adds after the builder started twice (sphinx-thebe's ``THEBE_JS_URL``
  declaration then throws "has already been declared" on every page);
* :func:`repository_url_in_sources` — ``{{ repository_url }}`` in a page, code blocks
  included, becomes ``repository.url`` of ``_config.yml``, the one place it is set;
* :func:`drop_colab_where_it_cannot_run` — no Colab button on a notebook whose metadata
  says it needs a clone of the repository (``cnnlab.needs_clone``);
* :func:`remove_source_maps` — the theme's ``.map`` files (1.3 MB) are for its own
  developers, not readers; so are the comments that point at them;
* accessible names (axe-core, tests/test_browser.py): :func:`visit_hidden_input` (the
  "Show code cell source" toggles), :func:`name_toctree_toggles` (the chapter menu's
  expanders), :func:`signature_lines` (long API signatures, one parameter a line) and
  :func:`bibliography_list_items`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

TOKEN = "{{ repository_url }}"


def dedupe_inline_scripts(app) -> None:
    """Give inline scripts one name, so the builder's duplicate check sees them.

    ``app.add_js_file(None, body=...)`` after ``builder-inited`` stores the script in
    the registry and hands it to the builder with the file name ``None``; when the
    builder prepares writing it re-adds the registry's scripts with the file name
    ``''``. ``_JavaScript(None, ...) != _JavaScript('', ...)``, so both copies stay.
    """
    builder = app.builder
    add = getattr(builder, "add_js_file", None)
    if add is None:
        return

    def add_js_file(filename, **kwargs):
        return add(filename or "", **kwargs)

    builder.add_js_file = add_js_file


def repository_url_in_sources(app, docname: str, source: list[str]) -> None:
    if TOKEN in source[0]:
        url = app.config.html_theme_options.get("repository_url", "")
        if not url:
            raise ValueError(f"{docname} uses {TOKEN} but _config.yml sets no repository.url")
        source[0] = source[0].replace(TOKEN, url)


def needs_clone(app, pagename: str) -> str | None:
    """The reason a notebook cannot run on its own (metadata ``cnnlab.needs_clone``)."""
    path = Path(app.env.doc2path(pagename))
    if path.suffix != ".ipynb" or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(
        "cnnlab", {}).get("needs_clone")


def drop_colab_where_it_cannot_run(app, pagename, templatename, context, doctree) -> None:
    if not needs_clone(app, pagename):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"] = [b for b in group["buttons"] if b.get("text") != "Colab"]


# a whole line that is only such a comment (the same text inside code is left alone)
SOURCE_MAP_COMMENT = re.compile(
    rb"^[ \t]*(?://[#@] sourceMappingURL=\S*|/\*[#@] sourceMappingURL=\S* \*/)[ \t]*\n?",
    re.MULTILINE)


def remove_source_maps(app, exception) -> None:
    """Delete the ``.map`` files and the comments that point browsers' tools at them."""
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir, "_static")
    for path in static.rglob("*.map"):
        path.unlink()
    for path in [*static.rglob("*.js"), *static.rglob("*.css")]:
        data = path.read_bytes()
        if SOURCE_MAP_COMMENT.search(data):
            path.write_bytes(SOURCE_MAP_COMMENT.sub(b"", data))


def visit_hidden_input(self, node) -> None:
    """myst-nb's hidden-code toggle, named by its visible text.

    myst-nb labels the ``<summary>`` "Toggle hidden content" while it shows "Show code
    cell source": a screen reader user hears a name that is not the one on screen
    (WCAG 2.5.3, axe's label-content-name-mismatch).  Without the label the summary is
    named by what it shows.
    """
    from html import escape

    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def depart_hidden_input(self, node) -> None:
    self.body.append("</details>\n")


TOCTREE_TOGGLE = '<summary><span class="toctree-toggle" role="presentation">'


def name_toctree_toggles(app, pagename, templatename, context, doctree) -> None:
    """Give the chapter menu's expand/collapse buttons a name (they show only a chevron)."""
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "names_toggles", False):
        return

    def generate_named(*args, **kwargs):
        from markupsafe import Markup

        html = str(generate(*args, **kwargs))   # the theme returns a BeautifulSoup tree
        return Markup(html.replace(
            TOCTREE_TOGGLE, '<summary aria-label="Show or hide the pages of this section">'
            '<span class="toctree-toggle" role="presentation">'))

    generate_named.names_toggles = True
    context["generate_toctree_html"] = generate_named


SIGNATURE = re.compile(r'(<dt class="sig[^"]*"[^>]*>)(.*?)(</dt>)', re.DOTALL)
PARAM_LIST = [(re.compile(r"<dl\b[^>]*>"), '<span class="sig-param-list">'),
              (re.compile(r"</dl>"), "</span>"),
              (re.compile(r"<dd\b[^>]*>"), '<span class="sig-param-line">'),
              (re.compile(r"</dd>"), "</span>")]


def signature_lines(app, pagename, templatename, context, doctree) -> None:
    """Long signatures as lines of parameters, without an invalid definition list.

    With ``maximum_signature_line_length`` Sphinx 7.4 writes each parameter of a long
    signature as a ``<dd>`` of a ``<dl>`` that has no ``<dt>``, nested in the signature's
    own ``<dt>``: screen readers announce a broken definition list (axe's
    definition-list rule).  The same lines are written as spans; assets/book.css shows
    each on its own line.
    """
    body = context.get("body")
    if not body or "<dl" not in body:
        return

    def rewrite(match):
        inner = match.group(2)
        for pattern, replacement in PARAM_LIST:
            inner = pattern.sub(replacement, inner)
        return match.group(1) + inner + match.group(3)

    context["body"] = SIGNATURE.sub(rewrite, body)


def bibliography_list_items(app, pagename, templatename, context, doctree) -> None:
    """Bibliography entries as items of the list that holds them.

    docutils writes the bibliography as ``role="list"`` whose entries have the role
    ``doc-biblioentry``, which DPUB-ARIA 1.1 deprecated; a list must hold list items
    (axe's aria-required-children, a critical finding), so each entry is a
    ``listitem``.
    """
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    from myst_nb.sphinx_ import HideCodeCellNode

    app.add_node(HideCodeCellNode, override=True, html=(visit_hidden_input, depart_hidden_input))
    app.connect("html-page-context", name_toctree_toggles, priority=600)
    app.connect("html-page-context", signature_lines, priority=600)
    app.connect("html-page-context", bibliography_list_items, priority=600)
    # before sphinx-togglebutton's builder-inited handler adds its inline script
    app.connect("builder-inited", dedupe_inline_scripts, priority=0)
    app.connect("source-read", repository_url_in_sources)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", drop_colab_where_it_cannot_run, priority=600)
    app.connect("build-finished", remove_source_maps)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
