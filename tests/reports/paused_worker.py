"""``worker.py`` whose first report build pauses while a file exists (a test kills it mid-run).

    python -m tests.reports.paused_worker PAUSE_FILE [worker.py arguments]

The work horse writes its pid to ``PAUSE_FILE.pid`` and waits (at most a minute) until
``PAUSE_FILE`` is removed — or the test SIGKILLs it. Only the first build in the process tree
pauses.
"""

from __future__ import annotations

import os
import sys
import time

from opsadmin.reports import service


def pausing(build, path: str):
    def build_after_pause(*args, **kwargs):
        if os.path.exists(path) and not os.path.exists(f"{path}.pid"):
            with open(f"{path}.pid", "w") as marker:
                marker.write(str(os.getpid()))
            deadline = time.monotonic() + 60
            while os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)
        return build(*args, **kwargs)

    return build_after_pause


if __name__ == "__main__":
    import worker

    service.build_artefacts = pausing(service.build_artefacts, sys.argv[1])
    sys.exit(worker.main(sys.argv[2:]))
