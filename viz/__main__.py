"""python -m viz: the neurona command (see viz.cli)."""
from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
