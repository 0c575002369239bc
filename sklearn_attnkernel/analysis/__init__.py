"""Layer 6: the paper's analysis: config, the resumable cell grid, the report and the CLI."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "experiments": ["load_config", "run_experiment"],
        "report": ["build_report"],
    },
)
