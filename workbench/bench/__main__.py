"""``python -m workbench.bench``: the window while it trains (see ``workbench.bench``)."""
import sys

from workbench.bench import main

sys.exit(main())
