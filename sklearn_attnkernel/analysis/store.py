"""The cell store of a run folder: content-hashed keys and seeds, verified records, atomic writes.

Every result of the analysis is one JSON record per cell in ``<run>/cells/``, named
``<part>-<key prefix>.json`` where the key is the sha256 of the cell's settings. Records are
written atomically (a temporary file, fsync, rename) with a checksum, so a killed run leaves
either a whole record or none; :func:`read_cell` verifies format, key, file name and checksum and
raises :class:`CorruptCellError` otherwise. Both the grid (which writes cells) and the report
(which reads them) use this module; neither imports the other.
"""

import contextlib
import hashlib
import json
import logging
import math
import os
import threading
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np

__all__ = [
    "CELL_FORMAT",
    "CorruptCellError",
    "RunFolderError",
    "atomic_write",
    "cell_key",
    "derive_seed",
    "read_cell",
    "remove_stale_temporaries",
    "write_cell",
]

logger = logging.getLogger(__name__)

#: Version of the cell-file format; a file of another format is recomputed.
CELL_FORMAT = 1

_REQUIRED_RECORD_KEYS = (
    "format",
    "key",
    "part",
    "settings",
    "status",
    "rows",
    "info",
    "seeds",
    "versions",
    "device",
    "wall_time_s",
    "checksum",
)


def canonical_json(obj):
    """Canonical JSON: sorted keys, no whitespace, ASCII, no NaN."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def cell_key(settings):
    """Key of a cell: the sha256 of its settings as canonical (sorted, compact) JSON.

    Parameters
    ----------
    settings : dict
        JSON-serialisable cell settings.

    Returns
    -------
    key : str
        64 hex digits.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.store import cell_key
    >>> cell_key({"b": 1, "a": [2]}) == cell_key({"a": [2], "b": 1})
    True
    >>> len(cell_key({}))
    64
    """
    return hashlib.sha256(canonical_json(settings).encode("ascii")).hexdigest()


def derive_seed(*parts):
    """A seed in ``[0, 2**31)`` derived from values (sha256 of their canonical JSON).

    Seeds come from a cell's settings, never from the order of execution, so every executor
    gives the same numbers; like the keys, they are hashes of canonical JSON.

    Parameters
    ----------
    *parts : JSON-serialisable values
        What the seed depends on, e.g. ``("train", "digits", "binary", 300, 0)``.

    Returns
    -------
    seed : int
        The first 8 bytes of the digest, modulo ``2**31``.

    Examples
    --------
    >>> from sklearn_attnkernel.analysis.store import derive_seed
    >>> derive_seed("model", 0) == derive_seed("model", 0) != derive_seed("model", 1)
    True
    """
    digest = hashlib.sha256(canonical_json(list(parts)).encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % (2**31)


class CorruptCellError(ValueError):
    """A cell file that cannot be trusted (bad JSON, missing keys, hash or checksum mismatch).

    Raised by :func:`read_cell`; a run moves such a file aside and recomputes the cell.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_attnkernel.analysis.store import CorruptCellError, read_cell
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "kappa-0123456789abcdef.json"
    ...     _ = path.write_text('{"format": 1, "key"')  # a write cut short
    ...     try:
    ...         read_cell(path)
    ...     except CorruptCellError as exc:
    ...         print(str(exc).split(" (")[0])
    kappa-0123456789abcdef.json: not valid JSON
    """


def _clean(value):
    """Make a value JSON-safe: numpy scalars → Python, non-finite floats → None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_clean(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _checksum(record):
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


class RunFolderError(ValueError):
    """A run folder that cannot be used as it is: fixing it needs the user, not a recomputation.

    For instance a folder where a cell file belongs, an unreadable cell file, or a ``run.json``
    that is not the manifest a run writes. Unlike :class:`CorruptCellError` (whose cell is
    simply recomputed), the message says what to move or restore.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_attnkernel.analysis.store import RunFolderError, read_cell
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "kappa-0123456789abcdef.json"
    ...     path.mkdir()
    ...     try:
    ...         read_cell(path)
    ...     except RunFolderError as exc:
    ...         print(str(exc).split(";")[0])
    kappa-0123456789abcdef.json is a folder, not a cell file
    """


def _temporary_name(path):
    """``.<name>.<pid>-<thread>.tmp`` beside ``path``: unique per writing thread."""
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def _fsync_folder(directory):
    """Make a rename inside ``directory`` durable (where folders can be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path, data):
    """Write ``data`` to ``path`` atomically: a temporary file beside it, fsync, rename.

    A reader (or a run killed midway) sees the old file or the whole new one, never a part. The
    temporary file ``.<name>.<pid>-<thread>.tmp`` lies in the same folder (so that
    :func:`os.replace` is a rename on one file system) and is unique per writing thread; one
    left by a killed writer is removed by :func:`remove_stale_temporaries`. Every file of a run
    folder (cells, manifest, results, tables, figures, report) is written through here.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.
    data : str or bytes
        The content; a str is encoded as UTF-8.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_attnkernel.analysis.store import atomic_write
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = atomic_write(Path(folder) / "table.md", "| a |")
    ...     print(path.read_text(), sorted(p.name for p in Path(folder).iterdir()))
    | a | ['table.md']
    """
    path = Path(path)
    tmp = _temporary_name(path)
    data = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _writer_is_gone(tmp):
    """Whether the process that wrote ``.<name>.<pid>[-<thread>].tmp`` has exited."""
    try:
        pid, _, thread = tmp.name.rsplit(".", 2)[-2].partition("-")
        pid, thread = int(pid), int(thread) if thread else None
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():  # written here: by a thread that still runs, or by no one alive
        return thread not in {t.ident for t in threading.enumerate()}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. no permission to signal it: it exists
        return False
    return False


def remove_stale_temporaries(directory):
    """Remove the temporary files that writers killed mid-write left in ``directory``.

    A temporary file of :func:`atomic_write` whose process still runs (another run writing
    into the same folder) is kept.

    Parameters
    ----------
    directory : str or path-like
        A folder of a run (``cells``, ``tables``, ``figures`` or the run folder itself).

    Returns
    -------
    removed : list of pathlib.Path
        The files removed.
    """
    removed = []
    for stray in Path(directory).glob(".*.tmp"):
        if _writer_is_gone(stray):
            stray.unlink(missing_ok=True)
            removed.append(stray)
    return removed


def write_cell(directory, record):
    """Write a cell record atomically to ``directory/<part>-<key[:16]>.json``.

    The record is written to a temporary file in the same folder, flushed and fsynced, then
    renamed over the target with :func:`os.replace` (atomic on POSIX and Windows), so a reader
    sees either the old file or the whole new one. A ``checksum`` (sha256 of the rest of the
    record as canonical JSON) is added.

    Parameters
    ----------
    directory : str or path-like
        The run's ``cells`` folder (created if missing).
    record : dict
        The cell record (see :func:`run_experiment` for its fields).

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    read_cell : Reads and verifies it.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_attnkernel.analysis.store import cell_key, read_cell, write_cell
    >>> settings = {"part": "kappa", "dataset": "digits"}
    >>> record = {"format": 1, "key": cell_key(settings), "part": "kappa",
    ...           "settings": settings, "status": "ok", "rows": [{"metric": "kappa",
    ...           "value": 2.5}], "info": {}, "seeds": {}, "versions": {}, "device": "cpu",
    ...           "wall_time_s": 0.1}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_cell(folder, record)
    ...     read_cell(path)["rows"]
    [{'metric': 'kappa', 'value': 2.5}]
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = _clean(record)
    record["checksum"] = _checksum(record)
    path = directory / f"{record['part']}-{record['key'][:16]}.json"
    return atomic_write(path, json.dumps(record, sort_keys=True, indent=1, allow_nan=False))


def read_cell(path, expected_key=None):
    """Read and verify a cell file.

    Parameters
    ----------
    path : str or path-like
        The cell file.
    expected_key : str, default=None
        If given, the key the file must hold (the hash of the settings the grid expects).

    Returns
    -------
    record : dict
        The verified record.

    Raises
    ------
    RunFolderError
        If ``path`` is a folder or cannot be read (a user must fix it; it is not recomputed).
    CorruptCellError
        If the file is not valid JSON, lacks a required field, has another format, its
        ``key`` is not the hash of its ``settings`` (or not ``expected_key``, or not the one its
        name implies), or its checksum does not match its content.

    See Also
    --------
    write_cell : Writes a record atomically.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_attnkernel.analysis.store import cell_key, read_cell, write_cell
    >>> settings = {"part": "ntk", "width": 16}
    >>> record = {"format": 1, "key": cell_key(settings), "part": "ntk", "settings": settings,
    ...           "status": "ok", "rows": [], "info": {}, "seeds": {}, "versions": {},
    ...           "device": "cpu", "wall_time_s": 0.1}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_cell(folder, record)
    ...     read_cell(path)["settings"] == settings
    True
    """
    path = Path(path)
    if path.is_dir():
        raise RunFolderError(
            f"{path.name} is a folder, not a cell file; move {str(path)!r} out of the run folder "
            "and rerun (its cell is then computed again)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunFolderError(
            f"cannot read cell file {str(path)!r} ({exc.strerror or exc}); make it readable or "
            "move it out of the run folder and rerun"
        ) from exc
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCellError(f"{path.name}: not valid JSON ({exc})") from exc
    for check in _RECORD_CHECKS:
        problem = check(record, path.name, expected_key)
        if problem is not None:
            raise CorruptCellError(f"{path.name}: {problem}")
    return record


# What read_cell verifies, in order: each check returns what is wrong (None: nothing) and may
# assume that the checks before it passed.
_RECORD_CHECKS = (
    lambda r, name, key: None if isinstance(r, dict) else "not a JSON object",
    lambda r, name, key: (
        f"missing field(s) {missing}"
        if (missing := [k for k in _REQUIRED_RECORD_KEYS if k not in r])
        else None
    ),
    lambda r, name, key: (
        f"format {r['format']!r}, expected {CELL_FORMAT}" if r["format"] != CELL_FORMAT else None
    ),
    lambda r, name, key: (
        "key does not match the hash of its settings"
        if not isinstance(r["settings"], dict) or cell_key(r["settings"]) != r["key"]
        else None
    ),
    lambda r, name, key: (
        f"holds cell {r['key'][:16]}, not {key[:16]}"
        if key is not None and r["key"] != key
        else None
    ),
    lambda r, name, key: (
        "file name does not match its key"
        if not name.startswith(f"{r['part']}-{r['key'][:16]}")
        else None
    ),
    lambda r, name, key: (
        "checksum mismatch (content changed after writing)"
        if r["checksum"] != _checksum(r)
        else None
    ),
    lambda r, name, key: (
        "bad status or rows"
        if r["status"] not in ("ok", "error") or not isinstance(r["rows"], list)
        else None
    ),
)


def quarantine(path, reason):
    """Move a corrupt cell file aside (``<name>.corrupt``) so that its cell is recomputed.

    Parameters
    ----------
    path : pathlib.Path
        The corrupt cell file.
    reason : str or Exception
        Why it is corrupt (logged).
    """
    logger.warning("cell file %s is corrupt (%s); it will be recomputed", path, reason)
    # a read-only folder keeps the file: recomputing overwrites it anyway
    with contextlib.suppress(OSError):
        os.replace(path, path.with_name(path.name + ".corrupt"))
