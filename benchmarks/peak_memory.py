"""Run a command and write its peak resident memory (MiB) to a file: the measure throughput.py uses.

    python -m benchmarks.peak_memory PEAK_FILE COMMAND [ARGS...]

Why a process in between: Linux starts a new program's peak-memory count (ru_maxrss) at the peak of the
process that launched it, so a benchmark that has itself held gigabytes (making 12-megapixel inputs, say)
would see every child as at least that large. Launched from this small process instead, the command's
count starts at this process's few megabytes. Exits with the command's exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main() -> None:
    peak_file, command = Path(sys.argv[1]), sys.argv[2:]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    peak_file.write_text(f"{usage.ru_maxrss / 1024:.1f}\n")  # ru_maxrss is in KiB on Linux
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
