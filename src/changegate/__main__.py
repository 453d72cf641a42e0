"""Allows `python -m changegate`, which the actions use from their isolated virtualenv."""

from changegate.cli import main

raise SystemExit(main())
