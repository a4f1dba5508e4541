"""Shared CLI plumbing: one-line errors with exit code 2, progress-bar switch, small JSON printing."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import sys
from typing import Any

import click

from scalescope.errors import InputError
from scalescope.results import to_jsonable

EXIT_BAD_INPUT = 2


def fail(message: str) -> None:
    """Print ``error: <message>`` on one line to stderr and exit 2."""
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(to_jsonable(obj), indent=2))


def silence_hf_progress() -> None:
    """--quiet also means no progress bars from transformers / huggingface_hub, the GGUF de-quantisation bar included."""
    os.environ["TQDM_DISABLE"] = "1"  # tools started from here; tqdm reads it only when it is first imported
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
        # transformers' GGUF loader calls tqdm directly, not through its logging switch.
        import transformers.modeling_gguf_pytorch_utils as gguf_utils

        if not isinstance(gguf_utils.tqdm, functools.partial):
            gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)
    except (ImportError, AttributeError):  # pragma: no cover - optional dependency / moved module
        pass


def os_error_line(e: OSError) -> str:
    """One line for an OS error: the path(s) it names and what went wrong (e.g. no space left on device)."""
    where = e.filename if e.filename is not None else ""
    if getattr(e, "filename2", None):
        where = f"{where} -> {e.filename2}"
    what = {
        errno.ENOENT: "no such file or directory",
        errno.EISDIR: "is a directory, expected a file",
        errno.EEXIST: "exists and is not a directory",
        errno.ENOTDIR: "a part of this path is a file, not a directory",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOSPC: "no space left on device",
        errno.EROFS: "read-only file system",
        errno.ENAMETOOLONG: "file name too long",
        errno.ELOOP: "too many levels of symbolic links",
        errno.EDQUOT: "disk quota exceeded",
        errno.EMFILE: "too many open files",
        errno.EXDEV: "cannot move across file systems",
    }.get(e.errno, e.strerror or type(e).__name__)
    return f"{where}: {what}" if where else what


class LazyBar:
    """A tqdm bar that appears only when work starts (first ``update``), so an input error found before that stays
    the one ``error: ...`` line on stderr; a bar that never started leaves no trace."""

    def __init__(self, **kw):
        self._kw = kw
        self._bar = None

    def update(self, n: int = 1) -> None:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(file=sys.stderr, **self._kw)
        self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None and exc[0] is not None:
            self._bar.leave = False
        self.close()


#: One rule for every ``--seed``: an integer in [0, 2**32 - 1] (what numpy's and torch's generators accept).
SEED = click.IntRange(0, 2**32 - 1)

overwrite_option = click.option(
    "--overwrite", is_flag=True,
    help="Replace an earlier output of this command in --out (only the files scalescope wrote there are removed).")


def check_out(out, *, command: str, overwrite: bool = False, inputs=()) -> None:
    """Refuse a bad ``--out`` before any work starts (the same checks the output layer applies when writing)."""
    from scalescope.outputs import check_out_dir

    check_out_dir(out, command=command, overwrite=overwrite, inputs=inputs)


quiet_option = click.option("--quiet", is_flag=True, help="No progress bars; print only where outputs went.")


def _plain_warnings() -> None:
    """scalescope's own warnings (e.g. an evaluation measured with other shots than the reference) print as one
    ``warning: ...`` line on stderr, not Python's ``file:line: Category: message`` block."""
    import warnings

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("scalescope") or "/scalescope/" in str(filename):
            click.echo(f"warning: {' '.join(str(message).split())}", err=True)
        else:
            default(message, category, filename, lineno, file, line)

    if getattr(warnings.showwarning, "__name__", "") != "show":
        warnings.showwarning = show


@contextlib.contextmanager
def error_boundary():
    """The CLI's one error boundary: bad input and OS errors become one ``error: ...`` line and exit 2; Ctrl-C exits
    130. (The output layer has already removed anything half-written by the time an exception gets here.)"""
    try:
        yield
    except InputError as e:
        fail(str(e))
    except OSError as e:  # disk full, read-only, permission, name too long, loops, ...: one line naming the path
        fail(os_error_line(e))
    except UnicodeDecodeError as e:
        fail(f"input is not valid UTF-8 text ({e.reason} at byte {e.start})")
    except RecursionError:
        fail("input too deeply nested or a parameter too extreme to evaluate (recursion limit reached)")
    except KeyboardInterrupt:
        click.echo("interrupted (nothing half-written was left)", err=True)
        sys.exit(130)


class Command(click.Command):
    """A click command that runs inside :func:`error_boundary` (also when invoked on its own, as tests do)."""

    def invoke(self, ctx: click.Context):
        with error_boundary():
            return super().invoke(ctx)


class Group(click.Group):
    """A click group whose subcommands turn :class:`InputError` (and user-facing OS errors) into one line + exit 2."""

    command_class = Command

    def invoke(self, ctx: click.Context):
        with error_boundary():
            return super().invoke(ctx)

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        _plain_warnings()
        # Usage errors (unknown flag, missing argument, bad choice) become one line + exit 2 instead of click's
        # multi-line usage block; --help still prints the full help.
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else str(e))
            sys.exit(0)
        except click.UsageError as e:
            where = f"{e.ctx.command_path}: " if e.ctx else ""
            fail(f"{where}{e.format_message()}")
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        except click.ClickException as e:
            fail(e.format_message())


Group.group_class = Group
