"""The HTML report: the blocks of :mod:`.render` through a Jinja2 template into one page
that stands alone (figures embedded as base64 PNG, no external file, font or script).

The page comes from ``templates/report.html.j2`` (package data), rendered with Jinja2's
autoescaping. Tables go through pandas' :class:`~pandas.io.formats.style.Styler` rather than
great-tables: pandas is already a dependency (great-tables would add a package and its own
dependencies for a page of plain tables), Styler escapes the cells and takes one CSS rule per
column, and the cells arrive already formatted ('mean ± ci' strings with their significant
digits, from :mod:`.formatting`), so no number formatting is left to a table library.

Written by hand, because no library does it: the choice of alignment per column (a column
whose every cell reads as a number, an interval or a percentage is right-aligned, text stays
left-aligned) and the no-break spans that keep a number such as ``3.18e-16`` or ``± 0.4 %``
in one piece while letting a cell wrap between numbers.
"""

import base64
import functools
import math
import numbers
import re
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup, escape
from pandas.io.formats.style import Styler

__all__ = ["COLLAPSE_ROWS", "LIFT_ROWS", "TURN_COLUMNS", "render_html"]

#: Tables with more rows than this are collapsed (HTML ``<details>``) unless a block's options
#: say otherwise or name the table (an ``"id"``: a headline table, never hidden); their full
#: form is in ``tables/*.csv``.
COLLAPSE_ROWS = 12

#: Tables with more rows than this show a column that holds one value in every row once,
#: above the table, instead of in each row (named tables, with an ``"id"``, are kept whole).
LIFT_ROWS = 1

#: A one-row table with more columns than this is shown turned on its side (one row per
#: column: name, value), as a wide single row does not fit the page (named tables excepted).
TURN_COLUMNS = 8

# A cell of a numeric column: digits and the signs of numbers, intervals, percentages and
# ratios ('34.6% ± 21.2%', '1.71× [1.42, 2.12]', '1.42e+04', '∞', '—'), nothing else.
_NUMERIC_CELL = re.compile(r"[\d\s.,eE+\-−±%×\[\]()∞—^]*")
# A run of text that must not break: a word with a digit or a hyphen ('3.18e-16', '2L-ReLU')
# or an interval ('[1.42, 2.12]'), with the sign before it ('≈ 10^39') and the half-width
# after it ('27.2% ± 19.2%'); a cell still wraps between such runs.
_UNBREAKABLE = re.compile(
    r"(?:[±≈=<>≤≥~]\s)?(?:\[[^\]\s]*,\s[^\]\s]*\]|\S*[\d\-−]\S*)(?:\s±\s\S+)?"
)
# A 'mean ± half' run longer than this may break before its '±'.
_LONG_CI = 16
# Where a column header may break: after an underscore or a slash ('log10_width_relu').
_HEADER_BREAK = re.compile(r"(?<=[_/])")


@functools.cache
def _template():
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("sklearn_attnkernel.analysis.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")


# -------------------------------------------------------------------------------- tables
def _cell_text(value):
    """The text of a cell: floats with up to 6 significant digits (as in ``report.md``)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{value:g}" if math.isfinite(value) else str(value)
    return str(value)


def _unbreakable(text):
    """HTML of ``text`` with each number-like word in a no-break span; a 'mean ± half' longer
    than :data:`_LONG_CI` characters ('1.42e+04 ± 2.03e+03') may break before its '±'."""
    pieces, end = [], 0
    for match in _UNBREAKABLE.finditer(text):
        pieces.append(escape(text[end : match.start()]))
        run = match.group()
        parts = run.replace(" ± ", "\0± ", 1).split("\0") if len(run) > _LONG_CI else [run]
        pieces.append(
            Markup(" ").join(Markup('<span class="nw">{}</span>').format(p) for p in parts)
        )
        end = match.end()
    pieces.append(escape(text[end:]))
    return Markup("").join(pieces)


def _cell_html(value):
    return _unbreakable(_cell_text(value))


def _header_html(label):
    return Markup("<wbr>").join(escape(part) for part in _HEADER_BREAK.split(str(label)))


def _is_numeric(column):
    """Whether a column holds numbers: a numeric dtype, or every cell a number-like string."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    texts = [_cell_text(value) for value in column]
    return any(any(c.isdigit() for c in t) for t in texts) and all(
        _NUMERIC_CELL.fullmatch(t) for t in texts
    )


def _table_html(frame, table_id):
    """The table as HTML through pandas' Styler: cells escaped, numeric columns right-aligned."""
    right = {
        column: [{"selector": "", "props": "text-align: right;"}]
        for column in frame.columns
        if _is_numeric(frame[column])
    }
    styler = (
        Styler(frame, cell_ids=False)
        .hide(axis="index")
        .format(_cell_html, escape=None)
        .format_index(_header_html, axis=1, escape=None)
        .set_table_styles(right, overwrite=False)
    )
    uuid = f"T_{table_id}"  # Styler's id; renamed to the table's own id below
    text = styler.to_html(table_uuid=table_id)
    text = text.replace(f'id="{uuid}"', f'id="{table_id}"', 1)
    return Markup(text.replace(f"#{uuid} ", f"#{table_id} "))


# --------------------------------------------------------------------------------- blocks
def _slug(text, taken):
    base = re.sub(r"\W+", "-", text.lower()).strip("-") or "section"
    slug, i = base, 1
    while slug in taken:
        i += 1
        slug = f"{base}-{i}"
    taken.add(slug)
    return slug


def _lift_constant_columns(frame):
    """The frame without its constant columns, and those columns as 'name = value' texts.

    A long table repeats e.g. ``dataset = digits`` in every row; said once above the table,
    it leaves the width to the columns that vary. Short tables and tables whose every column
    is constant are kept whole."""
    if len(frame) <= LIFT_ROWS:
        return frame, []
    constant = [c for c in frame.columns if frame[c].map(_cell_text).nunique() == 1]
    if len(constant) == len(frame.columns):
        return frame, []
    texts = [f"{c} = {_cell_text(frame[c].iloc[0]) or '(none)'}" for c in constant]
    return frame.drop(columns=constant), texts


def _table_part(block, n_table):
    frame = block[1]
    options = (block[2] if len(block) > 2 else None) or {}
    unknown = sorted(set(options) - {"id", "collapse"})
    if unknown:
        raise ValueError(
            f"table options {unknown} are not ones the report knows; a table block's options "
            'may hold "id" (the HTML id) and "collapse" (True or False).'
        )
    if frame.empty:
        return {"kind": "p", "text": "(empty)"}
    table_id = options.get("id", f"table-{n_table}")
    collapse = options.get("collapse", "id" not in options and len(frame) > COLLAPSE_ROWS)
    shown, constant = (frame, []) if "id" in options else _lift_constant_columns(frame)
    if "id" not in options and len(shown) == 1 and len(shown.columns) > TURN_COLUMNS:
        shown = pd.DataFrame({"quantity": list(shown.columns), "value": list(shown.iloc[0])})
    return {
        "kind": "table",
        "html": _table_html(shown, table_id),
        "constant": constant,
        "collapse": bool(collapse),
        "n_rows": len(frame),
    }


def _figure_part(block):
    data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
    return {"kind": "figure", "src": f"data:image/png;base64,{data}", "caption": block[2]}


def _sections(blocks):
    """The blocks as template parts, cut into sections at each h2; and the h2s for the
    table of contents. The first section holds what precedes the first h2 (may be empty)."""
    sections, toc, taken = [[]], [], set()
    for n, block in enumerate(blocks):
        kind = block[0]
        if kind == "h2":
            part = {"kind": kind, "text": block[1], "id": _slug(block[1], taken)}
            toc.append(part)
            sections.append([])
        elif kind in ("h1", "h3"):
            part = {"kind": kind, "text": block[1], "id": None}
        elif kind == "p":
            part = {"kind": kind, "text": block[1]}
        elif kind == "list":
            part = {"kind": kind, "entries": list(block[1])}
        elif kind == "table":
            part = _table_part(block, n)
        elif kind == "figure":
            part = _figure_part(block)
        else:
            raise ValueError(
                f"block kind {kind!r} is not one the report renders; use h1, h2, h3, p, "
                "list, table or figure."
            )
        sections[-1].append(part)
    return [{"parts": parts} for parts in sections], toc


def render_html(blocks, *, title=None):
    """The report as one self-contained HTML page.

    Parameters
    ----------
    blocks : list of tuple
        The report's content in order: ``("h1" | "h2" | "h3" | "p", text)``,
        ``("list", items)``, ``("figure", png_path, caption)``, ``("table", frame)`` or
        ``("table", frame, options)``. ``options`` may hold ``"id"`` (the table's HTML id)
        and ``"collapse"`` (show the table inside ``<details>``; by default tables of more
        than :data:`COLLAPSE_ROWS` rows are collapsed).
    title : str, optional
        The page's title (the browser tab); by default the first h1 block's text.

    Returns
    -------
    page : str
        The HTML page: a table of contents of the h2 headings after the first section,
        one ``<section>`` per h2, figures embedded as base64 PNG.

    Raises
    ------
    ValueError
        If a block's kind is not one of the above.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.html import render_html
    >>> frame = pd.DataFrame({"claim": ["κ cubing"], "ours": ["3.18e-16 ± 1e-17"]})
    >>> page = render_html([("h1", "Run"), ("h2", "Verdicts"),
    ...                     ("table", frame, {"id": "verdicts"})])
    >>> '<table id="verdicts">' in page, '<span class="nw">3.18e-16 ± 1e-17</span>' in page
    (True, True)
    """
    if title is None:
        title = next((block[1] for block in blocks if block[0] == "h1"), "attnkernel report")
    sections, toc = _sections(blocks)
    return _template().render(title=title, sections=sections, toc=toc)
