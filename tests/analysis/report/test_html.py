"""Tests for the report's renderers: the HTML page (read back with the standard library's HTML
parser, not with the code that wrote it) and the markdown text."""

import base64
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from sklearn_attnkernel.analysis.report.html import (
    COLLAPSE_ROWS,
    LIFT_ROWS,
    TURN_COLUMNS,
    render_html,
)
from sklearn_attnkernel.analysis.report.markdown import render_markdown


class _Page(HTMLParser):
    """What a reader of the page sees: tables (id, folded in a <details>, header and cell
    texts), no-break runs, ids, links, images, and the text outside tables."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.nobreak, self.links, self.images, self.headings = [], [], [], [], []
        self.ids, self.text = set(), []
        self._details, self._cell, self._span, self._heading = 0, None, None, None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "details":
            self._details += 1
        elif tag == "table":
            self.tables.append({"id": attrs.get("id"), "folded": self._details > 0, "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span" and attrs.get("class") == "nw":
            self._span = []
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "h2":
            self._heading = []

    def handle_endtag(self, tag):
        if tag == "details":
            self._details -= 1
        elif tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "span" and self._span is not None:
            self.nobreak.append("".join(self._span))
            self._span = None
        elif tag == "h2":
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data):
        for sink in (self._cell, self._span, self._heading):
            if sink is not None:
                sink.append(data)
        if self._cell is None:
            self.text.append(data)


def _frame(n_rows):
    return pd.DataFrame({"attack": [f"a{i}" for i in range(n_rows)], "flip": ["1.0%"] * n_rows})


def test_table_id_and_folding():
    blocks = [
        ("table", _frame(COLLAPSE_ROWS)),
        ("table", _frame(COLLAPSE_ROWS + 1)),
        ("table", _frame(COLLAPSE_ROWS + 1), {"id": "verdicts"}),
        ("table", _frame(2), {"collapse": True}),
        ("table", _frame(COLLAPSE_ROWS + 1), {"collapse": False}),
    ]
    tables = _Page(render_html(blocks)).tables
    assert [t["folded"] for t in tables] == [False, True, False, True, False]
    assert tables[2]["id"] == "verdicts"
    assert len({t["id"] for t in tables}) == len(tables)  # every table has its own id
    assert [len(t["rows"]) - 1 for t in tables] == [len(b[1]) for b in blocks]


def test_text_is_escaped():
    evil = "<script>alert('x')</script> & <b>"
    frame = pd.DataFrame({evil: [evil]})
    blocks = [("h1", evil), ("h2", evil), ("p", evil), ("list", [evil]), ("table", frame)]
    page_text = render_html(blocks)
    assert "<script>" not in page_text
    assert "<b>" not in page_text
    page = _Page(page_text)
    assert page.tables[0]["rows"] == [[evil], [evil]]
    # <title>, h1, the table of contents, h2, p, li (the table's cells aside)
    assert "".join(page.text).count(evil) == 6


def test_figure_is_embedded(tmp_path):
    payload = bytes(range(256)) * 3  # any bytes: the page must carry them unchanged
    path = tmp_path / "figure.png"
    path.write_bytes(payload)
    page = _Page(render_html([("figure", path, "a caption")]))
    (src,) = page.images
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == payload


@pytest.mark.parametrize(
    "number", ["3.18e-16", "1.42e+04", "-0.0836", "27.2% ± 19.2%", "1.71×", "[1.42, 2.12]"]
)
def test_numbers_are_kept_whole(number):
    text = f"ratio {number} (random)"
    page = _Page(render_html([("table", pd.DataFrame({"cell": [text]}))]))
    assert number in page.nobreak
    assert page.tables[0]["rows"][1] == [text]  # the spans add no text


def test_long_interval_breaks_only_before_its_sign():
    text = "1.42e+04 ± 2.03e+03"
    page = _Page(render_html([("table", pd.DataFrame({"cell": [text]}))]))
    assert page.nobreak == ["1.42e+04", "± 2.03e+03"]
    assert page.tables[0]["rows"][1] == [text]


def test_numeric_columns_are_right_aligned():
    frame = pd.DataFrame(
        {
            "attack": ["fgsm", "pgd"],
            "flip": ["27.2% ± 19.2%", "—"],
            "n": [268, 500],
            "training": [False, True],
            "ratio": ["1.71× [1.42, 2.12]", "∞"],
        }
    )
    page_text = render_html([("table", frame, {"id": "t"})])
    right = {int(i) for i in re.findall(r"#t \.col(\d+) \{\s*text-align: right;", page_text)}
    assert right == {1, 2, 4}


def test_floats_read_as_in_markdown():
    """Cells of a float column have the digits tabulate gives them in report.md."""
    values = [5.969, 17.91, 0.6285, 1e-17, 123456789.0, 0.1 + 0.2, -2.5e-05]
    frame = pd.DataFrame({"x": values})
    html_cells = [row[0] for row in _Page(render_html([("table", frame)])).tables[0]["rows"][1:]]
    markdown_rows = render_markdown([("table", frame)], ".").splitlines()[2:]
    assert html_cells == [row.strip("| ").strip() for row in markdown_rows]


def test_constant_columns_said_once():
    n = LIFT_ROWS + 1
    frame = pd.DataFrame(
        {"dataset": ["digits"] * n, "attack": [f"a{i}" for i in range(n)], "eps": [0.1] * n}
    )
    page = _Page(render_html([("table", frame)]))
    assert page.tables[0]["rows"][0] == ["attack"]
    assert "In every row: dataset = digits; eps = 0.1." in "".join(page.text)
    kept = _Page(render_html([("table", frame, {"id": "v"}), ("table", frame.head(LIFT_ROWS))]))
    assert [t["rows"][0] for t in kept.tables] == [["dataset", "attack", "eps"]] * 2


def test_a_wide_single_row_is_turned_on_its_side():
    columns = [f"quantity {i}" for i in range(TURN_COLUMNS + 1)]
    frame = pd.DataFrame([[f"v{i}" for i in range(len(columns))]], columns=columns)
    page = _Page(render_html([("table", frame), ("table", frame, {"id": "kept"})]))
    turned, kept = page.tables
    assert turned["rows"] == [["quantity", "value"]] + [[c, f"v{i}"] for i, c in enumerate(columns)]
    assert kept["rows"][0] == columns
    narrow = frame.iloc[:, :TURN_COLUMNS]
    assert _Page(render_html([("table", narrow)])).tables[0]["rows"][0] == columns[:TURN_COLUMNS]


def test_table_of_contents_links_every_section():
    blocks = [("h1", "Run"), ("p", "intro"), ("h2", "κ and width"), ("h3", "sub")]
    blocks += [("h2", "κ and width"), ("p", "again"), ("h2", "Compute")]
    page = _Page(render_html(blocks))
    assert page.headings == ["κ and width", "κ and width", "Compute"]
    assert len(page.links) == 3
    assert len(set(page.links)) == 3
    assert {link.removeprefix("#") for link in page.links} <= page.ids


def test_empty_table_and_unknown_block():
    assert "(empty)" in render_html([("table", pd.DataFrame())])
    for render in (render_html, lambda blocks: render_markdown(blocks, ".")):
        with pytest.raises(ValueError, match="'chart'"):
            render([("chart", None)])
    with pytest.raises(ValueError, match="'collapsed'"):
        render_html([("table", _frame(2), {"collapsed": True})])


def test_markdown_ignores_table_options():
    frame = _frame(3)
    assert render_markdown([("table", frame, {"id": "verdicts", "collapse": True})], ".") == (
        render_markdown([("table", frame)], ".")
    )
