"""The ``scalescope`` command line. Thin: parse, call the library, print where outputs went.

Each command group lives in its own module (``cli/data.py``, ``cli/obs.py``, ...) so the analyses can grow
independently; this module only assembles them. Every command exits 0 on success and 2 with one line on bad input.
"""

from __future__ import annotations

import importlib

import click

from scalescope import __version__
from scalescope.cli._common import Group

# (module, attribute) of each top-level command, in --help order.
_COMMANDS = [
    ("demo", "demo"),
    ("data", "data"),
    ("obs", "obs"),
    ("emergence", "emergence"),
    ("calibrate", "calibrate"),
    ("theory", "theory"),
    ("report", "report"),
]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="scalescope")
def cli() -> None:
    """scalescope: how language-model behaviour scales.

    \b
    Examples:
      scalescope demo --out demo-out          # offline study -> demo-out/index.html
      scalescope data list
      scalescope obs reproduce --out obs-out
      scalescope calibrate run --model ngram:3 --corpus wikitext-2 --steps 64 --samples 16 --out run1
    """


for _mod, _attr in _COMMANDS:
    try:
        _m = importlib.import_module(f"scalescope.cli.{_mod}")
    except ModuleNotFoundError as _e:  # a group whose module has not landed yet
        if _e.name != f"scalescope.cli.{_mod}":
            raise
        continue
    cli.add_command(getattr(_m, _attr))


def main() -> None:
    cli.main(prog_name="scalescope")


if __name__ == "__main__":  # pragma: no cover
    main()
