"""Sphinx configuration of the sklearn-attnkernel documentation.

Build (offline, warnings are errors, gallery executed)::

    sphinx-build -W -b html docs docs/_build/html

Environment variables:

``ATTNKERNEL_DOCS_INTERSPHINX=1``
    Link to the scikit-learn, NumPy, SciPy, PyTorch, skorch and pandas docs through intersphinx.
    Off by default: the inventories are downloaded at build time, and an unreachable inventory
    is a warning, which ``-W`` turns into an error on machines without network access.
``ATTNKERNEL_DOCS_GALLERY=0``
    Do not execute the gallery scripts (their pages are built from source, without figures).
``ATTNKERNEL_DOCS_THREADS=N``
    BLAS and torch threads for the gallery scripts (default 1).
"""

import os
import re
import sys
from pathlib import Path

import sklearn_attnkernel

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "sphinxext"))

# -- project -----------------------------------------------------------------------------------
project = "sklearn-attnkernel"
author = "sklearn-attnkernel developers"
copyright = "2026, sklearn-attnkernel developers"
release = sklearn_attnkernel.__version__
version = re.sub(r"(\d+\.\d+).*", r"\1", release)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "sg_execution_times.rst",
    "api_autosummary.rst",
]
# Single backticks (`name`) are used in the docstrings for parameter and attribute names.
default_role = "literal"
root_doc = "index"

# -- API reference -----------------------------------------------------------------------------
# The reference lists every name of ``sklearn_attnkernel.__all__``, grouped by the subpackage
# (layer) that defines it, in the order of the layers. A newly exported name appears without
# touching the docs; a new subpackage gets its own section, titled by its docstring's first line.
SECTION_ORDER = [
    ("attention", "Attention transforms"),
    ("kernels", "Kernels"),
    ("diagnostics", "Condition-number diagnostics"),
    ("preprocessing", "Preprocessing"),
    ("datasets", "Datasets"),
    ("attacks", "Attacks"),
    ("networks", "Networks and their pipelines (torch)"),
    ("ntk", "Empirical NTK and its distances"),
    ("influence", "Influence, malleability and interventions"),
    ("analysis", "Analysis runner"),
]


def _subpackage(name):
    """The subpackage (first component below the root) that defines a public name."""
    module = getattr(sklearn_attnkernel, name).__module__
    return module.removeprefix("sklearn_attnkernel.").split(".")[0]


def _module_summary(module_name):
    """First line of a subpackage's docstring, without its trailing period or layer prefix."""
    import importlib

    module = importlib.import_module(f"sklearn_attnkernel.{module_name}")
    doc = (module.__doc__ or "").strip().splitlines()
    summary = doc[0].rstrip(".").split(": ", 1)[-1] if doc else ""
    return summary[:1].upper() + summary[1:]


def write_api_index(path):
    """Write the autosummary tables of every public name to ``path`` (included by api.rst)."""
    by_module = {}
    for name in sklearn_attnkernel.__all__:
        by_module.setdefault(_subpackage(name), []).append(name)
    known = [m for m, _ in SECTION_ORDER]
    order = [m for m in known if m in by_module] + sorted(set(by_module) - set(known))
    titles = dict(SECTION_ORDER)
    lines = [".. currentmodule:: sklearn_attnkernel", ""]
    for module in order:
        title = titles.get(module, module.replace("_", " ").capitalize())
        lines += [title, "-" * len(title), ""]
        summary = _module_summary(module)
        if summary:
            lines += [f"{summary} (``sklearn_attnkernel.{module}``).", ""]
        # classes first, then functions, each alphabetically
        names = sorted(by_module[module], key=lambda n: (not n[:1].isupper(), n.lower()))
        lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in names] + [""]
    text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


# Read only through ``.. include::`` in api.rst: it is in exclude_patterns (no page of its own) and
# in docs/.gitignore. autosummary does not follow includes, so it is named in autosummary_generate;
# it sits beside api.rst because both resolve ``:toctree: generated/`` from their own folder.
API_INDEX = "api_autosummary.rst"
write_api_index(DOCS / API_INDEX)

# autosummary does not follow ``.. include::``, so the generated index is scanned explicitly.
autosummary_generate = ["api.rst", API_INDEX]
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- intersphinx (opt-in, needs network) --------------------------------------------------------
INTERSPHINX_MAPPING = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
    "pandas": ("https://pandas.pydata.org/docs/", None),
    "joblib": ("https://joblib.readthedocs.io/en/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}
if os.environ.get("ATTNKERNEL_DOCS_INTERSPHINX", "0") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = INTERSPHINX_MAPPING
    intersphinx_timeout = 10

# -- sphinx-gallery -----------------------------------------------------------------------------
# Each example runs with ATTNKERNEL_DOCS_THREADS BLAS/torch threads (default 1); see
# sphinxext/gallery_threads.py for why.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("ATTNKERNEL_DOCS_GALLERY", "1") != "0",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_attnkernel",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    # A gallery script that fails is a failed build, also without -W.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    # No sg_execution_times.rst in the source tree (the console still prints every timing).
    "write_computation_times": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "seaborn", "gallery_threads.limit_threads"),
    "min_reported_time": 0,
}

# -- HTML ---------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-attnkernel {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}


# -- hooks --------------------------------------------------------------------------------------
def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Hide the ``set_*_request`` methods scikit-learn generates for metadata routing."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
