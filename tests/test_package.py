"""The public namespace: every exported name resolves, and the numpy-only parts stay torch-free."""

import subprocess
import sys

import pytest

import sklearn_attnkernel


@pytest.mark.parametrize("name", sklearn_attnkernel.__all__)
def test_every_exported_name_resolves(name):
    obj = getattr(sklearn_attnkernel, name)
    assert obj.__module__.startswith("sklearn_attnkernel.")
    assert obj.__doc__, f"{name} has no docstring"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="sklearn_attnkernel attribute not_a_name"):
        sklearn_attnkernel.not_a_name


NUMPY_ONLY_MODULES = [
    "sklearn_attnkernel",
    "sklearn_attnkernel._utils.vocabulary",
    "sklearn_attnkernel.attention",
    "sklearn_attnkernel.kernels",
    "sklearn_attnkernel.diagnostics",
    "sklearn_attnkernel.datasets",
    "sklearn_attnkernel.preprocessing",
    "sklearn_attnkernel.influence",
    "sklearn_attnkernel.networks",
    "sklearn_attnkernel.attention.transformers",
    "sklearn_attnkernel.kernels.gram",
    "sklearn_attnkernel.diagnostics.kappa",
    "sklearn_attnkernel.analysis.cli",
    "sklearn_attnkernel.datasets.loaders",
    "sklearn_attnkernel.networks.pipelines",
    "sklearn_attnkernel.kernels.ntk",
    "sklearn_attnkernel.influence.loo",
    "sklearn_attnkernel.influence.metrics",
    "sklearn_attnkernel.influence.complexity",
    "sklearn_attnkernel.influence.attribution_params",
    "sklearn_attnkernel.influence.retraining",
]


@pytest.mark.parametrize(
    "module", ["sklearn_attnkernel", "sklearn_attnkernel.influence.estimators"]
)
def test_dattri_is_imported_only_by_the_methods_that_use_it(module):
    code = f"import sys, {module}; assert 'dattri' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", NUMPY_ONLY_MODULES)
def test_numpy_only_module_does_not_import_torch(module):
    code = f"import sys, {module}; assert 'torch' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
