"""
================================================================
Auditing influence methods: retraining, malleability, ensembling
================================================================

Which influence method can you trust on an attention model? This example runs the audit of
the ``audit`` part of ``attnkernel run`` by hand, on one small network of each architecture:

1. train it once, recording its weights at three checkpoints
   (:class:`~sklearn_attnkernel.networks.callbacks.RecordCheckpoints`);
2. retrain it without 10 of its training points, once, for every method: the ground truth
   (:func:`~sklearn_attnkernel.influence.retraining.retraining_effects`);
3. for the exact NTK influence and TRAK (through dattri:
   ``pip install "sklearn-attnkernel[audit]"``), the rank agreement with those measured effects
   and the flip rate of the top 10 % set under a PGD attack and under the random ±ε baseline on
   the same points; for TRAK (projected to 64 dimensions, for speed) also averaged over the
   three checkpoints.

The settings are shrunk to run in seconds (120 binary digits, width 32, 10 retrains, one seed):
read the numbers as a demonstration. ``attnkernel run`` with ``[audit] enabled = true`` measures
them over seeds, with paired confidence intervals, and writes the report section "Which influence
method can you trust on attention?".
"""

# %%
# Train once, with checkpoints
# ----------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from sklearn_attnkernel import make_mlp_attn, make_two_layer_relu
from sklearn_attnkernel.influence.estimators import influence_scores
from sklearn_attnkernel.influence.metrics import top_positive
from sklearn_attnkernel.influence.retraining import retraining_agreement, retraining_effects
from sklearn_attnkernel.influence.training_attacks import attack_training_points
from sklearn_attnkernel.networks.callbacks import RecordCheckpoints, recorded_checkpoints

X, y = load_digits(n_class=2, return_X_y=True)
X = X / 16.0
X_train, y_train, X_test, y_test = X[:120], y[:120], X[120:220], y[120:220]

epochs = 30
settings = dict(width=32, max_epochs=epochs, lr=0.1, batch_size=512, device="cpu", random_state=0)
builders = {"2L-ReLU": make_two_layer_relu, "MLP-Attn": make_mlp_attn}
checkpoints = [epochs // 3, 2 * epochs // 3, epochs]

# %%
# Score, attack, compare
# ----------------------
# Each method attacks its own clean top set; the random ±ε baseline perturbs the same points by
# the same ε with random signs. The flip rate is the share of that set whose score changes sign.


def flip_rate(before, after, top):
    return float(np.mean(np.sign(after[top]) != np.sign(before[top])))


def scores(model, method, train=None, ensemble=None):
    extra = {} if train is None else {"X_train": train, "y_train": y_train}
    params = None if method == "exact" else {"proj_dim": 64, "checkpoints": ensemble}
    return influence_scores(model, X_test, y_test, method=method, method_params=params, **extra)


results = []
for name, build in builders.items():
    model = build(callbacks=[RecordCheckpoints(checkpoints)], **settings).fit(X_train, y_train)
    ensemble = recorded_checkpoints(model)
    effects = retraining_effects(
        build(**settings), X_train, y_train, X_test, y_test, n_retrains=10, random_state=0
    )
    for method, sizes in (("exact", [1]), ("trak", [1, 3])):
        final = scores(model, method)  # the top set is ranked at the final weights
        top = top_positive(final, 0.1)
        attacked = {  # one attack of the top set per method, shared by its ensembles
            attack: attack_training_points(
                model,
                X_train,
                y_train,
                top,
                method=attack,
                epsilon=0.3,
                steps=10,
                clip=(0.0, 1.0),
                random_state=0,
            )
            for attack in ("pgd", "random")
        }
        for T in sizes:
            use = ensemble if T > 1 else None
            before = final if use is None else scores(model, method, ensemble=use)
            rho = retraining_agreement(effects, before, random_state=0)
            row = {"architecture": name, "method": f"{method}, T={T}", "agreement": rho.statistic}
            for attack, X_adv in attacked.items():
                row[attack] = flip_rate(before, scores(model, method, X_adv, use), top)
            results.append(row)

for row in results:
    print(
        f"{row['architecture']:9s} {row['method']:9s} ρ with retraining {row['agreement']:+.2f}"
        f"  flip rate PGD {row['pgd']:.2f}, random ±ε {row['random']:.2f}"
    )

# %%
# The flip rate beside its baseline
# ---------------------------------
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True, layout="constrained")
for ax, name in zip(axes, builders, strict=True):
    rows = [r for r in results if r["architecture"] == name]
    positions = np.arange(len(rows))
    ax.bar(positions - 0.2, [r["pgd"] for r in rows], 0.4, label="PGD, ε = 0.3")
    ax.bar(positions + 0.2, [r["random"] for r in rows], 0.4, label="random ±ε")
    ax.set_xticks(positions, [r["method"] for r in rows])
    ax.set_title(name)
axes[0].set_ylabel("flip rate of the top 10 %")
axes[0].legend()
plt.show()
