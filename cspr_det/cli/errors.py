"""Error reporting of the command-line tools: bad input is one line on
stderr and a non-zero exit; a bug keeps its traceback.

What counts as bad input (:func:`is_user_error`):

- :class:`~cspr_det.utils.UserInputError` and its subclasses (the package's
  own: :class:`CLIError`, :class:`~cspr_det.models.utils.
  CheckpointMismatchError`, :class:`~cspr_det.utils.UnsafeCheckpointError`,
  ...);
- ``FileNotFoundError`` / ``NotADirectoryError`` (a path the user gave),
  ``ValueError`` (the package raises it, with a message naming the value,
  for malformed files and arguments) and ``ImportError`` (a missing module
  named by a config's ``custom_imports`` or an optional dependency);
- a config naming a type that no registry holds (mmengine's registry
  ``KeyError``, recognised by where and how it is raised).

Any other exception, in particular a ``KeyError`` or ``TypeError`` raised
by code, is a bug and is shown with its traceback.
"""
import os
import re
import sys
import traceback
from typing import Callable, Optional

from cspr_det.engine.hooks import NonFiniteLossError
from cspr_det.models.utils import CheckpointMismatchError
from cspr_det.utils.dist import exit_process
from cspr_det.utils.user_input_error import UserInputError

# Exceptions of the standard library that the package raises, with a
# message, for input the user gave.
USER_ERRORS = (UserInputError, FileNotFoundError, NotADirectoryError,
               ValueError, ImportError)

_REGISTRY_MISS = re.compile(r'is not in the \S+ registry')


class CLIError(UserInputError):
    """An error whose message is shown alone, without a traceback (exit
    status 2: a wrong argument of the command line)."""


def _raised_in(exc: BaseException, part: str) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is in a file
    whose path contains ``part``."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return part in tb.tb_frame.f_code.co_filename.replace(os.sep, '/')


def is_registry_miss(exc: BaseException) -> bool:
    """A config names a type that is not registered: mmengine's registry
    raises a ``KeyError`` ``'<type> is not in the <scope>::<name>
    registry...'``."""
    return (isinstance(exc, KeyError) and bool(exc.args)
            and bool(_REGISTRY_MISS.search(str(exc.args[0])))
            and _raised_in(exc, 'mmengine/registry/'))


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` means bad input (shown as one line) rather than a bug
    (shown with its traceback); see the module docstring."""
    return isinstance(exc, USER_ERRORS) or is_registry_miss(exc)


def _one_line(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    lines = str(text).strip().strip('"\'').splitlines()
    return lines[0] if lines else repr(exc)


def run_cli(main: Callable[[], Optional[int]], debug: bool = False) -> None:
    """Run ``main``; show bad-input errors as one line and exit non-zero
    (through :func:`cspr_det.utils.dist.exit_process`); let bugs raise.

    Exit status: 0 (or ``main``'s return value), 2 :class:`CLIError`, 3
    :class:`~cspr_det.engine.hooks.NonFiniteLossError`, 1 any other bad
    input. ``debug`` (or the ``CSPR_DET_DEBUG`` environment variable)
    prints the traceback of a bad-input error as well.
    """
    try:
        code = main()
    except CLIError as exc:
        print(f'error: {exc}', file=sys.stderr)
        exit_process(2)
    except NonFiniteLossError as exc:
        print(f'error: {exc}', file=sys.stderr)
        exit_process(3)
    except Exception as exc:  # noqa: BLE001  sorted below; bugs re-raised
        if not is_user_error(exc):
            raise
        if debug or os.environ.get('CSPR_DET_DEBUG'):
            traceback.print_exc()
        if isinstance(exc, (UserInputError, CheckpointMismatchError)):
            print(f'error: {_one_line(exc)}', file=sys.stderr)
        else:
            print(
                f'error: {type(exc).__name__}: {_one_line(exc)} '
                '(run with --debug for the traceback)',
                file=sys.stderr)
        exit_process(1)
    exit_process(code or 0)
