"""``python -m migrate`` is the same as the ``mailmigrate`` console script."""

from migrate.cli import main

raise SystemExit(main())
