"""Regenerate src/scalescope/data/registry.txt from byte copies of the upstream data files (maintainers only).

Usage: python tools/make_data_registry.py DATA_DIR      (e.g. ../shared/data)

Check new copies against upstream first (SOURCE.md gives the commit of each folder), then review the diff of
registry.txt and commit it: the registry is what pins every public file scalescope reads.
"""

from __future__ import annotations

import os
import sys

from scalescope.data.registry import REGISTRY_FILE, make_registry

if __name__ == "__main__":
    src = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SCALESCOPE_DATA_DIR", "")
    if not src:
        sys.exit("usage: python tools/make_data_registry.py DATA_DIR")
    print(f"wrote {len(make_registry(src))} entries to {REGISTRY_FILE}")
