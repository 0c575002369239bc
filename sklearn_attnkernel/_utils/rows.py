"""How error messages list offending rows."""


class ZeroRowsWarning(UserWarning):
    """Rows that are exactly zero were left zero instead of being ℓ2-normalised.

    Raised by the normalising attention transformers and ``GramInducedKernel(normalize=True)``,
    which follow :func:`sklearn.preprocessing.normalize` there; the message lists the rows.
    """


#: Rows named in an error message before the rest are summarised as "and N more".
MAX_LISTED_ROWS = 10


def list_rows(rows):
    """``"3, 7, 12"`` for the first :data:`MAX_LISTED_ROWS` indices, then ``" and N more"``.

    Parameters
    ----------
    rows : sequence of int
        Row indices (a numpy array, a list or a tensor's ``tolist()``).

    Returns
    -------
    str
        The listing for an error message.

    Examples
    --------
    >>> from sklearn_attnkernel._utils.rows import list_rows
    >>> list_rows(list(range(12)))
    '0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more'
    """
    rows = [int(i) for i in rows]
    listed = ", ".join(str(i) for i in rows[:MAX_LISTED_ROWS])
    more = f" and {len(rows) - MAX_LISTED_ROWS} more" if len(rows) > MAX_LISTED_ROWS else ""
    return f"{listed}{more}"
