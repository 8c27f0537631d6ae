"""Former place of the int8 quantisation, kept so that ``python -m ser.training.quantize`` and old
imports still work; it lives in `ser.export.quantize` now (export is not training)."""

from __future__ import annotations

import sys

from ser.export.quantize import *  # noqa: F401,F403  (the public names, for old imports)
from ser.export.quantize import main

if __name__ == "__main__":
    sys.exit(main())
