"""Benchmark the full MLP-Attn malleability computation, and report flip rates on digits (#4).

``timing`` (default): MLP-Attn on n = 2000 MNIST images (784 pixels in [0, 1]), then the three
stages of one malleability evaluation, each timed:

1. influence of every training point on the held-out set (empirical NTK 2000 × 2000 and
   n_test × 2000, one Cholesky factorisation);
2. PGD-40 (ε = 0.3, step 0.01, pixels clipped to [0, 1]) on the top 10 % of the training points,
   attacked jointly through the attention reference set C(X′);
3. influence again with the perturbed training set (attention re-fitted on it, same network;
   one more kernel and one more factorisation).

The same evaluation through :class:`InfluenceMalleability` is timed end to end as a check.
Training is timed separately and is not part of the figure. Only the MNIST *test* split ships
with the project (``/work/shared/data/mnist``), so the 2000 training and the held-out images
are drawn from it; the timing depends only on the shapes.

``flip-rates``: on scikit-learn's digits (10 classes, 1797 images of 64 pixels), for 3 seeds,
the PGD flip rate of 2L-ReLU and MLP-Attn and the random ±ε baseline, with fast settings
(400 training and 300 held-out images, width 512, Adam lr 1e-2, 40 epochs, ``reg_lambda=0`` by
default; influence with the empirical NTK, α = 1e-3, top 10 %). The
figures are reported, not asserted: the paper's numbers are for MNIST at full training.

BLAS and torch run single-threaded (``--threads``) so the figures do not depend on the other
jobs on the machine. Run: ``python benchmarks/bench_malleability.py [timing|flip-rates]``.
"""

import argparse
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_attnkernel import load_dataset, make_mlp_attn, make_two_layer_relu
from sklearn_attnkernel.influence.estimators import influence_scores
from sklearn_attnkernel.influence.metrics import (
    influence_flip_rate,
    influence_rank_correlation,
    top_k_stability,
    top_positive,
)
from sklearn_attnkernel.influence.scorer import InfluenceMalleability
from sklearn_attnkernel.influence.training_attacks import attack_training_points

MNIST_ROOT = "/work/shared/data/mnist"
ATTACK = {"epsilon": 0.3, "steps": 40, "step_size": 0.01, "clip": (0.0, 1.0)}


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_timing(n_train, n_test, width, epochs):
    X, y = load_dataset(
        "mnist", root=MNIST_ROOT, split="test", n_samples=n_train + n_test, random_state=0
    )
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=n_train, stratify=y, random_state=0)
    model = make_mlp_attn(width=width, lr=1e-2, max_epochs=epochs, device="cpu", random_state=0)
    t_fit, _ = _timed(lambda: model.fit(Xtr, ytr))
    accuracy = model.score(Xte, yte)

    t1, before = _timed(lambda: influence_scores(model, Xte, yte, X_train=Xtr, y_train=ytr))
    top = top_positive(before, 0.1)
    t2, X_adv = _timed(
        lambda: attack_training_points(model, Xtr, ytr, top, method="pgd", random_state=0, **ATTACK)
    )
    t3, after = _timed(lambda: influence_scores(model, Xte, yte, X_train=X_adv, y_train=ytr))
    scorer = InfluenceMalleability(**ATTACK, random_state=0)
    t_scorer, score = _timed(lambda: scorer(model, Xte, yte))

    print(
        f"MLP-Attn malleability, MNIST n_train={n_train}, n_test={n_test}, d={X.shape[1]}, "
        f"width={width}, {epochs} epochs (test accuracy {accuracy:.3f})"
    )
    print(f"  training (not counted)        : {t_fit:8.2f} s")
    print(f"  1. influence (clean)          : {t1:8.2f} s")
    print(f"  2. PGD-40 on top {top.size:4d} points  : {t2:8.2f} s")
    print(f"  3. influence (perturbed)      : {t3:8.2f} s")
    print(f"  total 1-3                     : {t1 + t2 + t3:8.2f} s")
    print(f"  InfluenceMalleability call    : {t_scorer:8.2f} s")
    print(
        f"  flip rate {influence_flip_rate(before, after):.3f}, "
        f"spearman {influence_rank_correlation(before, after):.3f}, "
        f"top-k {top_k_stability(before, after):.3f}; scorer -flip = {score:.3f}"
    )


def bench_flip_rates(n_train, n_test, width, epochs, seeds, reg_lambda):
    X, y = load_dataset("digits", split="all")
    rows = []
    for name, factory in (("2L-ReLU", make_two_layer_relu), ("MLP-Attn", make_mlp_attn)):
        for seed in seeds:
            Xtr, Xte, ytr, yte = train_test_split(
                X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=seed
            )
            model = factory(
                width=width,
                lr=1e-2,
                reg_lambda=reg_lambda,
                max_epochs=epochs,
                device="cpu",
                random_state=seed,
            ).fit(Xtr, ytr)
            accuracy = model.score(Xte, yte)
            for attack in ("pgd", "random"):
                scorer = InfluenceMalleability(attack=attack, random_state=seed, **ATTACK)
                rho = InfluenceMalleability(
                    metric="spearman", attack=attack, random_state=seed, **ATTACK
                )
                rows.append(
                    (name, seed, attack, accuracy, -scorer(model, Xte, yte), rho(model, Xte, yte))
                )
                print(
                    f"{name:9s} seed {seed}  {attack:6s}  acc {accuracy:.3f}  "
                    f"flip {rows[-1][4]:.3f}  spearman {rows[-1][5]:.3f}",
                    flush=True,
                )
    print("\nmean ± std over seeds")
    for name in ("2L-ReLU", "MLP-Attn"):
        for attack in ("pgd", "random"):
            sel = [r for r in rows if r[0] == name and r[2] == attack]
            flips = np.array([r[4] for r in sel])
            rhos = np.array([r[5] for r in sel])
            accs = np.array([r[3] for r in sel])
            print(
                f"{name:9s} {attack:6s}  flip {flips.mean():.3f} ± {flips.std(ddof=1):.3f}  "
                f"spearman {rhos.mean():.3f} ± {rhos.std(ddof=1):.3f}  "
                f"acc {accs.mean():.3f}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="timing", choices=["timing", "flip-rates"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reg-lambda", type=float, default=0.0)
    parser.add_argument("--epsilon", type=float, default=0.3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ATTACK["epsilon"] = args.epsilon
    with threadpool_limits(limits=args.threads):
        if args.what == "timing":
            bench_timing(args.n_train or 2000, args.n_test or 500, args.width or 1024,
                         args.epochs or 20)  # fmt: skip
        else:
            bench_flip_rates(args.n_train or 400, args.n_test or 300, args.width or 512,
                             args.epochs or 40, args.seeds, args.reg_lambda)  # fmt: skip


if __name__ == "__main__":
    main()
