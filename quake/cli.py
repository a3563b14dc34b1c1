"""Command-line entry point: subcommands live in `quake.commands`, one module each.

Every command returns an exit code; a `QuakeError` (or an `OSError`: a file that cannot be
read or written) becomes a one-line ``error: ...`` on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable

from quake.commands._common import TERMINATED
from quake.errors import QuakeError

# Each module defines NAME, HELP, add_arguments(parser) and run(args) -> int.
COMMANDS = (
    "catalog",
    "compare",
    "decluster",
    "download",
    "evaluate",
    "export_csep",
    "fit",
    "forecast",
    "report",
    "train",
    "sweep_weights",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: exit 2, one line
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m quake", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"quake.commands.{name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def describe(err: Exception) -> str:
    """One line for an error: an `OSError` names the path and what the system said."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        path = str(err.filename)[:200]
        return f"cannot read or write {path!r}: {err.strerror}"
    return str(err)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The package logs (a cache it could not write, a job's traceback); show warnings.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    restore = _terminate_as_interrupt()
    try:
        return int(args._run(args) or 0)
    except (QuakeError, OSError) as err:  # a file the command cannot read or write, too
        print(f"error: {describe(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        restore()


def _terminate_as_interrupt() -> Callable[[], None]:
    """Make SIGTERM (what ``timeout`` and ``kill`` send) interrupt like Ctrl-C, so a run
    cleans up as it does then (no half-written temporary model folder or claim left);
    returns what restores the previous handler. Only in the main thread (a handler cannot
    be set elsewhere), and not when a handler other than the default is already set."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return lambda: None

    def interrupt(signum, frame) -> None:
        TERMINATED.set()  # raised again by the next progress event if this raise is lost
        raise KeyboardInterrupt

    TERMINATED.clear()
    signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)
