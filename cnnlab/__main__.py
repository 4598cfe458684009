"""``python -m cnnlab``: the same command line as the ``cnnlab`` console script."""
from .cli import main

raise SystemExit(main())
