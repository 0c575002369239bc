"""``python -m sklearn_attnkernel`` runs the ``attnkernel`` command line."""

if __name__ == "__main__":
    from sklearn_attnkernel.analysis.cli import main

    raise SystemExit(main())
