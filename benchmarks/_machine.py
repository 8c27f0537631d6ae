"""What the benchmark scripts say about the machine they ran on (imported by the scripts beside it)."""

from __future__ import annotations

import platform
import subprocess


def cpu_name() -> str:
    """The CPU model as `lscpu` names it, e.g. 'Intel(R) Xeon(R) Processor @ 2.60GHz'."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
