"""Tests for the ``examples`` part (issue #13, A.10): rows for both architectures and both
stages, the ranking against a brute-force sort of the influence matrix, the stored pixels
against the data, and the note for non-image rows."""

import numpy as np
import pytest

from sklearn_attnkernel.analysis.config import load_config
from sklearn_attnkernel.analysis.data import cell_data
from sklearn_attnkernel.analysis.grid import group_tasks, run_task
from sklearn_attnkernel.analysis.parts import examples as part
from sklearn_attnkernel.analysis.parts.models import make_model

CTX = {"root": None, "threads": 1}


def _run(config):
    records = []
    for _, cells in group_tasks(load_config(config).cells()):
        records += run_task("examples", [c.settings for c in cells], CTX)
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    return records


@pytest.fixture(scope="module")
def tiny_records(tiny_examples):
    return _run(tiny_examples)


def _scores(record, stage):
    return [r for r in record["rows"] if r["metric"] == "example_score" and r["stage"] == stage]


def test_rows_for_both_architectures_and_both_stages(tiny_records):
    assert sorted(r["settings"]["architecture"] for r in tiny_records) == ["attention", "relu"]
    points = {tuple(r["info"]["test_points"]) for r in tiny_records}
    assert len(points) == 1  # the same test points for both architectures
    (picked,) = points
    assert len(picked) == 3
    for record in tiny_records:
        for stage in ("clean", "attacked"):
            rows = _scores(record, stage)
            assert len(rows) == 3 * 2 * 4  # test points × sides × k
            for test_index in picked:
                for sign in ("helpful", "harmful"):
                    ranks = [
                        r["rank"]
                        for r in rows
                        if (r["test_index"], r["sign"]) == (test_index, sign)
                    ]
                    assert sorted(ranks) == [1, 2, 3, 4]
        tests = [r for r in record["rows"] if r["metric"] == "test_prediction"]
        assert [r["test_index"] for r in tests] == list(picked)


def _brute_force(column, k):
    n = len(column)
    helpful = sorted(range(n), key=lambda i: (-column[i], i))[:k]
    harmful = sorted(range(n), key=lambda i: (column[i], i))[:k]
    return {"helpful": helpful, "harmful": harmful}


def test_clean_examples_are_the_extremes_of_the_score_matrix(tiny_records):
    """Retrain the (seeded) network, score the picked test points, sort each row by hand."""
    from sklearn_attnkernel.influence.estimators import influence_scores

    record = next(r for r in tiny_records if r["settings"]["architecture"] == "relu")
    s = record["settings"]
    data = cell_data(s, None)
    model = make_model(s).fit(data["X"], data["y"])
    picked = record["info"]["test_points"]
    matrix = influence_scores(
        model,
        data["X_test"][picked],
        data["y_test"][picked],
        kernel=s["kernel"],
        alpha=s["alpha"],
        loss=s["loss"],
        reduce=None,
    )
    rows = _scores(record, "clean")
    for j, test_index in enumerate(picked):
        expected = _brute_force(matrix[j].tolist(), s["k"])
        for sign, indices in expected.items():
            got = sorted(
                (r for r in rows if (r["test_index"], r["sign"]) == (test_index, sign)),
                key=lambda r: r["rank"],
            )
            assert [r["train_index"] for r in got] == indices
            np.testing.assert_allclose(
                [r["value"] for r in got], matrix[j, indices], rtol=1e-6, atol=1e-12
            )


def test_pixels_are_the_clean_or_attacked_training_images(tiny_records):
    record = tiny_records[0]
    s = record["settings"]
    data = cell_data(s, None)
    for stage in ("clean", "attacked"):
        for row in _scores(record, stage):
            assert row["image_shape"] == "8x8"
            assert row["label"] == data["y"][row["train_index"]]
            pixels = part.decode_pixels(row["pixels"])
            clean = data["X"][row["train_index"]]
            levels = np.abs(pixels - clean).max() * 255
            if stage == "clean" or not row["in_attacked_set"]:
                assert levels <= 0.5 + 1e-9  # the clean image, to uint8 rounding
            else:
                assert levels <= 0.2 * 255 + 0.5 + 1e-9  # within ε, to rounding
    moved = [r for r in _scores(record, "attacked") if r["in_attacked_set"]]
    for row in moved:
        clean = data["X"][row["train_index"]]
        assert not np.allclose(part.decode_pixels(row["pixels"]), clean, atol=1 / 255)


def test_overlap_is_the_share_of_shared_indices(tiny_records):
    for record in tiny_records:
        k = record["settings"]["k"]
        for row in (r for r in record["rows"] if r["metric"] == "example_overlap"):
            sets = [
                {
                    r["train_index"]
                    for r in _scores(record, stage)
                    if (r["test_index"], r["sign"]) == (row["test_index"], row["sign"])
                }
                for stage in ("clean", "attacked")
            ]
            assert row["value"] == len(sets[0] & sets[1]) / k


def test_non_image_rows_give_a_note_and_no_pixels(tiny_examples, monkeypatch):
    """Rows whose length is no image shape (the first 60 of 64 pixels) keep their scores."""
    from sklearn_attnkernel.analysis.parts import malleability

    def cropped(s, root):
        data = cell_data(s, root)
        return {**data, "X": data["X"][:, :60], "X_test": data["X_test"][:, :60]}

    monkeypatch.setattr(malleability, "cell_data", cropped)
    config = {**tiny_examples, "examples": {**tiny_examples["examples"], "architectures": ["relu"]}}
    (record,) = _run(config)
    assert any("no known image shape" in note for note in record["notes"])
    scores = [r for r in record["rows"] if r["metric"] == "example_score"]
    assert scores
    assert not any("pixels" in r for r in scores)


def test_image_shape_and_pixel_round_trip():
    assert part.image_shape("mnist", 784) == "28x28"
    assert part.image_shape("cifar10", 3072) == "3x32x32"
    assert part.image_shape("digits", 60) is None
    row = np.random.default_rng(0).uniform(size=64)
    assert np.abs(part.decode_pixels(part.encode_pixels(row)) - row).max() <= 0.5 / 255 + 1e-12
