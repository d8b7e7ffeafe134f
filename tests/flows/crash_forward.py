"""A dispatcher process that freezes at a checkpoint, so a test can SIGKILL it exactly there.

``python -m tests.flows.crash_forward POINT MARKER``: builds its runtime from ``TONGBAN_*`` (as a
worker does), runs one dispatch round, and at ``POINT`` writes the case number to ``MARKER`` and waits
to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from config import Settings
from flows import runtime as flow_runtime
from flows.checkpoints import register
from flows.dispatch import dispatch_once
from states.runtime import Runtime


def main() -> None:
    point, marker = sys.argv[1], Path(sys.argv[2])
    runtime = Runtime(Settings())
    flow_runtime.use(runtime)

    def freeze(name: str, info: dict[str, Any]) -> None:
        marker.write_text(str(info.get("case_no", "")))
        time.sleep(3600)

    register(point, freeze)
    dispatch_once(runtime)
    sys.exit("the checkpoint was never reached")


if __name__ == "__main__":
    main()
