"""``python -m sklearn_attnkernel`` runs the ``attnkernel`` command line."""

from sklearn_attnkernel.cli import main

raise SystemExit(main())
