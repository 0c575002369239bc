"""The shape of the package's code (issue #10): short functions, low complexity, small modules.

Cyclomatic complexity is measured with radon, which counts every boolean operator as a branch
(stricter than ruff's C901, which CI runs as well). Function length counts lines of code only:
the docstring, comments and blank lines are left out.
"""

import ast
from pathlib import Path

import pytest

radon_complexity = pytest.importorskip("radon.complexity")
radon_visitors = pytest.importorskip("radon.visitors")

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_attnkernel"
MODULES = sorted(PACKAGE.rglob("*.py"))

MAX_COMPLEXITY = 15
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 800


def _code_lines(node, lines):
    """Lines of code of a function, without its docstring, comments and blank lines."""
    body = node.body
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        if len(body) == 1:
            return 0
        body = body[1:]
    text = lines[body[0].lineno - 1 : node.end_lineno]
    return sum(1 for line in text if line.strip() and not line.strip().startswith("#"))


def _functions(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _name(path):
    return str(path.relative_to(PACKAGE.parent))


def test_the_package_is_found():
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_is_small(path):
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_MODULE_LINES, f"{_name(path)} has {n_lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_functions_are_short(path):
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    long = {
        f"{node.name} (line {node.lineno})": n
        for node in _functions(ast.parse(source))
        if (n := _code_lines(node, lines)) > MAX_FUNCTION_LINES
    }
    assert not long, f"{_name(path)}: functions over {MAX_FUNCTION_LINES} lines of code: {long}"


def _radon_functions(blocks):
    """Functions, methods and nested functions (radon lists closures inside their parent)."""
    for block in blocks:
        if isinstance(block, radon_visitors.Function):
            yield block
            yield from _radon_functions(block.closures)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_functions_are_simple(path):
    blocks = radon_complexity.cc_visit(path.read_text(encoding="utf-8"))
    complex_ = {
        f"{block.fullname} (line {block.lineno})": block.complexity
        for block in _radon_functions(blocks)
        if block.complexity > MAX_COMPLEXITY
    }
    assert not complex_, f"{_name(path)}: radon complexity over {MAX_COMPLEXITY}: {complex_}"


def test_nested_functions_are_measured():
    source = "def f(x):\n    def g(y):\n        return 1 if y and x else 0\n    return g\n"
    names = {b.name: b.complexity for b in _radon_functions(radon_complexity.cc_visit(source))}
    assert names == {"f": 1, "g": 3}


def test_the_length_count_ignores_docstrings_and_comments():
    source = 'def f():\n    """Doc.\n\n    More.\n    """\n    # note\n\n    x = 1\n    return x\n'
    (node,) = _functions(ast.parse(source))
    assert _code_lines(node, source.splitlines()) == 2
