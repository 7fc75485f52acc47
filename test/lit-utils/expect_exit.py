"""Runs a command and succeeds only if it exits with the given status.

Usage: expect_exit.py STATUS COMMAND [ARGS...]

lit's `not` accepts any non-zero status; bad-input tests need exactly 1
(a diagnostic), which tells an error apart from a crash (signal, abort).
The command's stdout and stderr pass through for FileCheck.
"""

import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    expected = int(sys.argv[1])
    status = subprocess.call(sys.argv[2:])
    if status != expected:
        sys.stderr.write(f"expect_exit: '{sys.argv[2]}' exited with {status}, expected {expected}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
