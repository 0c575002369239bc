"""numpydoc validation of every public docstring, and the user guide's doctests.

Every name in ``sklearn_attnkernel.__all__`` is validated with :func:`numpydoc.validate.validate`,
and so is every public method and property a public class defines itself (inherited ones belong to
scikit-learn or torch). New exports are picked up automatically.

Error codes that are not enforced (https://numpydoc.readthedocs.io/en/latest/validation.html):

- ``ES01`` (no extended summary) and ``SA01`` (no See Also section): optional. Short functions
  need neither; they are welcome where they help.
- ``RT02`` (Returns line should hold only the type): the package names its return values
  (``kappa : float``), as scikit-learn does, so the docs can refer to them.
- For methods only, ``EX01`` (no Examples section): the class docstring's example covers its
  methods. Every public *name* must have an Examples section with at least one doctest line
  (``>>>``); ``pytest --doctest-modules`` runs them.

Docstrings that still fail are listed in ``KNOWN_FAILURES`` with the codes they fail; they are
expected failures until fixed, and a fixed one fails the test until its entry is removed, so the
list cannot go stale.
"""

import doctest
import inspect
from pathlib import Path

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")
docscrape = pytest.importorskip("numpydoc.docscrape")

import sklearn_attnkernel  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

IGNORED = frozenset({"ES01", "SA01", "RT02"})
IGNORED_FOR_METHODS = IGNORED | {"EX01"}

# import path -> (codes it still fails, reason); remove the entry once the docstring is fixed
# public path -> (numpydoc error codes, reason); empty while every docstring passes. An entry
# fails the test once its docstring is fixed, so the list cannot go stale.
KNOWN_FAILURES = {}


def _own_members(cls):
    """Public methods and properties defined by ``cls`` itself (plus ``__call__``)."""
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property) or inspect.isfunction(value):
            yield name


def _public_docstrings():
    """(import path, is_method) for every public name and its classes' own members."""
    for name in sklearn_attnkernel.__all__:
        obj = getattr(sklearn_attnkernel, name)
        path = f"{obj.__module__}.{obj.__qualname__}"
        yield path, False
        if inspect.isclass(obj):
            for member in _own_members(obj):
                yield f"{path}.{member}", True


DOCSTRINGS = sorted(set(_public_docstrings()))


@pytest.mark.parametrize(("path", "is_method"), DOCSTRINGS, ids=[p for p, _ in DOCSTRINGS])
def test_docstring(path, is_method):
    ignored = IGNORED_FOR_METHODS if is_method else IGNORED
    result = numpydoc_validate.validate(path)
    errors = [(code, message) for code, message in result["errors"] if code not in ignored]
    codes = {code for code, _ in errors}
    if path in KNOWN_FAILURES:
        expected, reason = KNOWN_FAILURES[path]
        if not codes:
            pytest.fail(f"{path} now passes: remove it from KNOWN_FAILURES")
        if codes <= expected:
            pytest.xfail(f"known numpydoc failure {sorted(codes)}: {reason}")
    assert not errors, f"{path}:\n" + "\n".join(f"  {code}: {msg}" for code, msg in errors)


PUBLIC_NAMES = sorted(sklearn_attnkernel.__all__)


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_name_has_doctested_example(name):
    obj = getattr(sklearn_attnkernel, name)
    if inspect.isclass(obj):
        doc = docscrape.ClassDoc(obj, config={"show_class_members": False})
    else:
        doc = docscrape.FunctionDoc(obj)
    examples = "\n".join(doc["Examples"])
    assert ">>>" in examples, f"{name}: the Examples section has no doctest (>>>) line"


def test_known_failures_are_public():
    paths = {path for path, _ in DOCSTRINGS}
    stale = sorted(set(KNOWN_FAILURES) - paths)
    assert not stale, f"KNOWN_FAILURES lists names that are not public docstrings: {stale}"


USER_GUIDE = sorted(
    p for p in (ROOT / "docs").glob("*.rst") if ">>>" in p.read_text(encoding="utf-8")
)


@pytest.mark.slow
@pytest.mark.parametrize("page", USER_GUIDE, ids=[p.name for p in USER_GUIDE])
def test_user_guide_doctests(page):
    # The docs' code is run as written, so the user guide cannot drift from the API.
    pytest.importorskip("torch")
    if page.name == "audit.rst":  # the dattri methods: the optional [audit] extra
        pytest.importorskip("dattri")
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {page}"
