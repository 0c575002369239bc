"""The docs and docstrings claim what the paper and the code support (issue #12, item 6).

Each test reads the text users see (doc pages, README, examples, docstrings and messages in the
package) and, where a claim is about the code, checks the code does what the text says.
"""

from pathlib import Path

import numpy as np
import pytest

from sklearn_attnkernel import effective_condition_number, linearized_attention_operator

ROOT = Path(__file__).resolve().parents[1]
# The project's private formula notes, spelt in two pieces so that this file passes its own grep.
NOTES = "PAPER" + ".md"
PACKAGE = ROOT / "sklearn_attnkernel"


def _user_facing_files():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
    files += sorted((ROOT / "examples").rglob("*.py"))
    files += sorted(PACKAGE.rglob("*.py"))
    return files


@pytest.mark.parametrize(
    ("phrase", "why"),
    [
        (NOTES, "cite arXiv 2603.13085 by theorem/section/appendix, and the theory page"),
        ("≍", "the width rule is a sufficient condition Ω(·), not an order ≍"),
        ("cannot reach its NTK regime", "the width rule is sufficient; no lower bound is known"),
        ("softmax bound", "it is the bound of the matrix-exponential model"),
        (
            "infinite-width predictor",
            "KRR with Θ∞ is the limit only for squared loss, gradient flow",
        ),
        ("the paper's default", "the paper does not say how its points are attacked"),
    ],
)
def test_no_overclaiming_phrase(phrase, why):
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _user_facing_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if phrase.lower() in line.lower()
    ]
    assert not hits, f"{phrase!r} ({why}) in {hits}"


def test_tests_do_not_cite_the_private_notes():
    hits = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != Path(__file__).name and NOTES in path.read_text(encoding="utf-8")
    ]
    assert not hits


def test_theory_page_describes_the_stacking_the_code_does():
    # The text: every layer reuses the original C, so the operator is C^L and κ becomes κ^{2L+1}.
    text = (ROOT / "docs" / "theory.rst").read_text(encoding="utf-8")
    assert "reuses the same operator" in text
    assert "κ^{3^L}" in text  # the variant the code does not implement is named as such
    # The code: brute force, without the package's operator.
    X = np.random.default_rng(3).normal(size=(20, 4)) * np.array([2.0, 1.5, 1.0, 0.5])
    C = X.T @ X
    for n_layers in (1, 2, 3):
        operator = linearized_attention_operator(X, n_layers=n_layers)
        np.testing.assert_allclose(operator, np.linalg.matrix_power(C, n_layers), rtol=1e-12)
        kappa = effective_condition_number(X @ operator)
        assert kappa == pytest.approx(effective_condition_number(X) ** (2 * n_layers + 1), rel=1e-6)
