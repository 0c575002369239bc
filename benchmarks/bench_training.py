"""One epoch of training of TwoLayerReLUClassifier on the CPU (issue #3, "Speed").

Setting: n = 10 000 unit-norm rows, d = 784, m = 4096, 10 classes, batch 128, float32, Adam
(the paper's defaults), CPU, one torch thread by default (the CI machines have two shared cores).

What is printed:

* the one-off conversion of the training matrix to a torch tensor (done once per ``fit``);
* for reg_lambda = 1e-3 and 0, the duration of epochs 1, 2 and 3 from skorch's
  ``EpochTimer`` (``history_[:, "dur"]``):
  the estimator holds X and y as tensors for the whole fit and every batch is one index gather
  from them, so epoch 1 is not slower than the later ones for want of a conversion, and no epoch
  copies the data;
* for comparison, one epoch of a plain skorch ``NeuralNet`` fed the numpy array (skorch's
  defaults: per-sample ``__getitem__``, collation of 128 rows, numpy → tensor per batch).

Run: ``python benchmarks/bench_training.py [--threads N] [--epochs E]``.
"""

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch

from sklearn_attnkernel import TwoLayerReLU, TwoLayerReLUClassifier
from sklearn_attnkernel.networks.skorch_net import as_device_tensor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--device", default="cpu", help="'cpu' (the issue's figure) or 'cuda'")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    n, d, m, n_classes = args.n, 784, args.width, 10
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.integers(0, n_classes, size=n)

    print(f"date: {datetime.date.today()}  machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(f"n={n} d={d} m={m} classes={n_classes} batch=128 float32 Adam")

    start = time.perf_counter()
    X_t = as_device_tensor(X, torch.float32, torch.device(args.device))
    print(
        f"numpy float64 -> torch float32 tensor, once per fit: {time.perf_counter() - start:.3f} s"
    )
    del X_t

    for reg_lambda in (1e-3, 0.0):
        clf = TwoLayerReLUClassifier(
            width=m,
            max_epochs=args.epochs,
            batch_size=128,
            reg_lambda=reg_lambda,
            device=args.device,
            random_state=0,
        )
        start = time.perf_counter()
        clf.fit(X, y)
        total = time.perf_counter() - start
        durations = ", ".join(f"{dur:.2f}" for dur in clf.history_[:, "dur"])
        print(
            f"TwoLayerReLUClassifier reg_lambda={reg_lambda:g}, "
            f"epochs 1..{args.epochs} [s]: {durations}"
        )
        print(f"  whole fit (init, tensor conversion, {args.epochs} epochs): {total:.2f} s")

    if args.skip_baseline:
        return
    from skorch import NeuralNet

    torch.manual_seed(0)
    baseline = NeuralNet(
        TwoLayerReLU,
        module__n_features=d,
        module__width=m,
        module__n_outputs=n_classes,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=128,
        max_epochs=2,
        train_split=None,
        iterator_train__shuffle=True,
        device=args.device,
        verbose=0,
    )
    baseline.fit(X.astype(np.float32), y.astype(np.int64))
    durations = ", ".join(f"{dur:.2f}" for dur in baseline.history[:, "dur"])
    print(
        "plain skorch NeuralNet, numpy input, default Dataset/DataLoader (no regulariser), "
        f"epochs 1..2 [s]: {durations}"
    )


if __name__ == "__main__":
    main()
