"""Part ``examples``: the most helpful and most harmful training images of a few test points,
before and after the attack on the training set (arXiv 2603.13085, A.10).

One cell trains one network (architecture × width) exactly as the malleability part does and
reuses its machinery (:func:`.malleability.train_and_score`,
:func:`.malleability.attack_rows`): the clean mean influence over the cell's test set
picks the attacked set ``T`` (the ``top_fraction`` most helpful points), and ``T`` is attacked
once. For ``n_test_points`` test points, drawn from the cell's test set with a seed of the data
settings alone (so both architectures see the same points), the per-test-point influence is
computed on the clean and on the attacked training matrix and ranked by
:func:`~sklearn_attnkernel.influence.ranking.most_influential`.

Rows (enough to redraw the figure without the data or the network):

- ``example_score`` (value: the influence score): ``stage`` ("clean", "attacked"),
  ``test_index``, ``sign`` ("helpful", "harmful"), ``rank`` (1 = most influential),
  ``train_index``, ``label`` (of the training point), ``in_attacked_set`` (1 when the point is
  in ``T``: its attacked image differs from the clean one), and, for image data, ``pixels``
  and ``image_shape`` (see :func:`encode_pixels`).
- ``test_prediction`` (value: the class the network predicts): ``test_index``, ``label`` (the
  true one), ``pixels``, ``image_shape``.
- ``example_overlap`` (value: ``|clean ∩ attacked| / k`` of the top-k training indices):
  ``test_index``, ``sign``.
- ``test_accuracy`` and the network's fit (as the malleability part records them).

Indices are rows of the cell's training and test subsets
(:func:`~sklearn_attnkernel.analysis.data.cell_data`). A dataset without a known image shape
gets the scores and a note, and no pixels: the report then skips its image grid.
"""

import numpy as np

from ..store import derive_seed
from .malleability import attack_rows, scored, train_and_score
from .models import pixel_epsilon

__all__ = ["IMAGE_SHAPES", "decode_pixels", "encode_pixels", "run"]

#: Image shape of each dataset's flattened rows (C-order; CIFAR-10's rows are channel-first).
IMAGE_SHAPES = {
    "digits": (8, 8),
    "mnist": (28, 28),
    "fashion-mnist": (28, 28),
    "cifar10": (3, 32, 32),
}

_STAGES = ("clean", "attacked")
_SIGNS = ("helpful", "harmful")


def encode_pixels(row):
    """One image row (values in [0, 1]) as hex text of its uint8 levels ``round(255 · x)``.

    Two characters per pixel: a 28×28 image is 1 568 characters. The levels are for drawing
    only: an ε = 0.03 perturbation is about 8 levels.

    Parameters
    ----------
    row : array-like of shape (n_pixels,)
        Pixels in [0, 1] (values outside are clipped).

    Returns
    -------
    text : str
        Two hex digits per pixel; :func:`decode_pixels` reads it back.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_attnkernel.analysis.parts.examples import decode_pixels, encode_pixels
    >>> encode_pixels(np.array([0.0, 0.5, 1.0]))
    '0080ff'
    >>> decode_pixels("0080ff").tolist()
    [0.0, 0.5019607843137255, 1.0]
    """
    levels = np.rint(np.clip(np.asarray(row, dtype=np.float64), 0.0, 1.0) * 255)
    return levels.astype(np.uint8).tobytes().hex()


def decode_pixels(text):
    """The pixels in [0, 1] (float64) of :func:`encode_pixels`' text."""
    return np.frombuffer(bytes.fromhex(text), dtype=np.uint8) / 255.0


def image_shape(dataset, n_features):
    """``"8x8"``-style shape of the dataset's images, or None for non-image rows."""
    shape = IMAGE_SHAPES.get(dataset)
    if shape is None or int(np.prod(shape)) != n_features:
        return None
    return "x".join(str(size) for size in shape)


def picked_test_points(s, n_test):
    """Positions of the cell's test points to show: the same for every architecture."""
    seed = derive_seed(
        "examples", s["dataset"], s["setting"], s["train_split"], s["n_train"], s["seed"], n_test
    )
    size = min(s["n_test_points"], n_test)
    return np.sort(np.random.default_rng(seed).choice(n_test, size=size, replace=False))


def _image_fields(shape, row):
    return {} if shape is None else {"pixels": encode_pixels(row), "image_shape": shape}


def _stage_rows(stage, ranked, picked, X, y, top, shape):
    """The ``example_score`` rows of one stage."""
    rows = []
    for j, test_index in enumerate(picked):
        for sign in _SIGNS:
            indices, scores = getattr(ranked, sign)[j], getattr(ranked, f"{sign}_scores")[j]
            for rank, (i, score) in enumerate(zip(indices, scores, strict=True), start=1):
                rows.append(
                    {
                        "metric": "example_score",
                        "value": float(score),
                        "stage": stage,
                        "test_index": int(test_index),
                        "sign": sign,
                        "rank": rank,
                        "train_index": int(i),
                        "label": int(y[i]),
                        "in_attacked_set": int(i in top),
                        **_image_fields(shape, X[i]),
                    }
                )
    return rows


def _overlap_rows(ranked, picked, k):
    clean, attacked = ranked["clean"], ranked["attacked"]
    return [
        {
            "metric": "example_overlap",
            "value": np.intersect1d(getattr(clean, sign)[j], getattr(attacked, sign)[j]).size / k,
            "test_index": int(test_index),
            "sign": sign,
        }
        for j, test_index in enumerate(picked)
        for sign in _SIGNS
    ]


def _test_rows(model, X_test, y_test, picked, shape):
    predicted = model.predict(X_test[picked])
    return [
        {
            "metric": "test_prediction",
            "value": float(predicted[j]),
            "test_index": int(t),
            "label": int(y_test[t]),
            **_image_fields(shape, X_test[t]),
        }
        for j, t in enumerate(picked)
    ]


def _examples_cell(s, ctx):
    from ...influence.ranking import most_influential

    clean = train_and_score(s, ctx)
    X, y = clean.data["X"], clean.data["y"]
    X_test, y_test = clean.data["X_test"], clean.data["y_test"]
    picked = picked_test_points(s, y_test.size)
    shape = image_shape(s["dataset"], X.shape[1])
    notes = []
    if shape is None:
        notes.append(
            f"{s['dataset']} rows have {X.shape[1]} features and no known image shape: scores "
            "recorded without pixels, the example grid is skipped"
        )
    per_point = {**clean.influence, "reduce": None}
    tests = (X_test[picked], y_test[picked])
    training = {"clean": X}
    if clean.top.size:
        epsilon = pixel_epsilon(clean.model, s["epsilon"], s["epsilon_space"])
        training["attacked"] = attack_rows(
            s, clean.model, clean.data["X"], clean.data["y"], clean.top, epsilon
        )
    else:
        notes.append("no positive influence score: nothing to attack, clean examples only")
    rows, ranked = _test_rows(clean.model, X_test, y_test, picked, shape), {}
    for stage, X_stage in training.items():
        matrix, _ = scored(
            clean.model, *tests, per_point, None if stage == "clean" else (X_stage, y)
        )
        ranked[stage] = most_influential(matrix, s["k"])
        rows += _stage_rows(stage, ranked[stage], picked, X_stage, y, set(clean.top), shape)
    if len(ranked) == 2:
        rows += _overlap_rows(ranked, picked, s["k"])
    rows += [{"metric": "test_accuracy", "value": clean.info["test_accuracy"]}, *clean.health]
    info = {**clean.info, "test_points": picked.tolist()}
    return s, rows, info, notes


def run(cells, ctx):
    """One trained network, one attack and the ranked examples per cell."""
    return [_examples_cell(s, ctx) for s in cells]
