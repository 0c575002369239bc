"""Layer 6: the paper's analysis: config, the resumable cell grid, the report and the CLI.

Modules, each importing only those listed before it: :mod:`.store` (the cell store), :mod:`.data`
(a cell's data), :mod:`.cells` (the grid's points), :mod:`.config` (defaults, validation),
:mod:`.parts` (one module per experiment part), :mod:`.grid` (tasks, executors, resume),
:mod:`.report` (tables, figures, report), :mod:`.runner` (grid then report) and :mod:`.cli`.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "config": ["load_config"],
        "runner": ["run_experiment"],
        "report": ["build_report"],
    },
)
