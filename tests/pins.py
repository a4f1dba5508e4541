"""Shared by the regression-pin tests: a JSON document as (path, leaf) pairs, so pinned and computed outputs are
compared leaf by leaf with the path in every failure message."""

from __future__ import annotations


def flat(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from flat(v, f"{p}/{k}")
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from flat(v, f"{p}/{i}")
    else:
        yield p, o
