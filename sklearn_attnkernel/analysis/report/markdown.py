"""The markdown report: the blocks of :mod:`.render` as ``report.md`` (tables through
:meth:`pandas.DataFrame.to_markdown`, figures as links relative to the run folder)."""

import os

__all__ = ["render_markdown"]


def _markdown_table(frame):
    return frame.to_markdown(index=False) if not frame.empty else "(empty)"


_MARKDOWN = {
    "h1": lambda block, _: [f"# {block[1]}", ""],
    "h2": lambda block, _: [f"## {block[1]}", ""],
    "h3": lambda block, _: [f"### {block[1]}", ""],
    "p": lambda block, _: [block[1], ""],
    "list": lambda block, _: [f"- {item}" for item in block[1]] + [""],
    # ("table", frame) or ("table", frame, options): the options (HTML id, collapse) are
    # for the HTML page only
    "table": lambda block, _: [_markdown_table(block[1]), ""],
    "figure": lambda block, run_dir: [
        f"![{block[2]}]({os.path.relpath(block[1], run_dir)})",
        "",
        f"*{block[2]}*",
        "",
    ],
}


def render_markdown(blocks, run_dir):
    """The report as markdown.

    Parameters
    ----------
    blocks : list of tuple
        The report's content, as for :func:`~sklearn_attnkernel.analysis.report.html.render_html`;
        a table's options are ignored.
    run_dir : str or path-like
        The run folder; figure links are relative to it.

    Returns
    -------
    text : str
        The markdown text.

    Raises
    ------
    ValueError
        If a block's kind is not one of h1, h2, h3, p, list, table, figure.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_attnkernel.analysis.report.markdown import render_markdown
    >>> frame = pd.DataFrame({"claim": ["κ cubing"], "ours": ["2.9 ± 0.1"]})
    >>> print(render_markdown([("h2", "Verdicts"), ("table", frame, {"id": "verdicts"})], "."))
    ## Verdicts
    <BLANKLINE>
    | claim    | ours      |
    |:---------|:----------|
    | κ cubing | 2.9 ± 0.1 |
    <BLANKLINE>
    """
    unknown = sorted({block[0] for block in blocks} - set(_MARKDOWN))
    if unknown:
        raise ValueError(
            f"block kinds {unknown} are not ones the report renders; use h1, h2, h3, p, "
            "list, table or figure."
        )
    return "\n".join(line for block in blocks for line in _MARKDOWN[block[0]](block, run_dir))
