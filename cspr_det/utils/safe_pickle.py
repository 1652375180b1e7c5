"""Reading pickles from outside without running their code.

``pickle.load`` calls whatever global a pickle names (``os.system``,
``subprocess.Popen``, ...). :func:`safe_load` uses an unpickler that finds
only the globals plain data needs: containers (dict, list, tuple, set,
frozenset), str / bytes / numbers / bool / None, and numpy arrays, dtypes
and scalars. Any other global is refused with one line naming it and the
file, before anything is called.

:func:`to_jsonable` / :func:`export_json` turn such data into JSON (arrays
become nested lists), so that a file can be shared or read without pickle
(``tools/misc/pickle_to_json.py``).

This module imports nothing from the package (it is safe to use anywhere).
"""
import copyreg
import io
import json
import os
import os.path as osp
import pickle
import tempfile
from typing import Any, Union

import numpy as np

__all__ = [
    'ALLOWED_GLOBALS', 'UnsafePickleError', 'RestrictedUnpickler', 'safe_load',
    'safe_loads', 'to_jsonable', 'export_json'
]

#: The globals a pickle of plain data and numpy arrays may name
#: (module, name). numpy >= 2 pickles under ``numpy._core``, older numpy
#: under ``numpy.core``; both spellings are allowed for the same objects.
ALLOWED_GLOBALS = frozenset({
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    # protocol 5 arrays: an array from a bytes buffer
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.numeric', '_frombuffer'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    # protocol 0-2 pickles spell some built-in types through globals
    # (Python 2 names: __builtin__, copy_reg)
    ('copyreg', '_reconstructor'),
    ('copy_reg', '_reconstructor'),
    ('_codecs', 'encode'),
    ('builtins', 'object'),
    ('builtins', 'set'),
    ('builtins', 'frozenset'),
    ('builtins', 'complex'),
    ('builtins', 'bytes'),
    ('builtins', 'bytearray'),
    ('__builtin__', 'object'),
    ('__builtin__', 'set'),
    ('__builtin__', 'frozenset'),
    ('__builtin__', 'complex'),
    ('__builtin__', 'bytes'),
    ('__builtin__', 'bytearray'),
})

#: Classes ``copyreg._reconstructor`` may rebuild (only the built-in data
#: types; it would otherwise instantiate any class).
_RECONSTRUCTIBLE = (object, set, frozenset, list, dict, tuple)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside :data:`ALLOWED_GLOBALS`."""


def _checked_reconstructor(cls, base, state):
    """``copyreg._reconstructor`` limited to built-in data types."""
    if cls not in _RECONSTRUCTIBLE or base not in _RECONSTRUCTIBLE:
        raise UnsafePickleError(
            f'refused to rebuild {getattr(cls, "__name__", cls)!r}')
    return copyreg._reconstructor(cls, base, state)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`.

    Args:
        file: Binary file object to read from.
        source: Name of the file for messages.
    """

    def __init__(self, file, source: str = '<bytes>') -> None:
        super().__init__(file, encoding='latin1')
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f'{self.source}: refused to load global {module}.{name} '
                '(only dicts, lists, tuples, sets, strings, numbers and '
                'numpy arrays/scalars are read from pickles)')
        if name == '_reconstructor':
            return _checked_reconstructor
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f'{self.source}: refused persistent id {pid!r} (not plain data)')


def safe_loads(data: bytes, source: str = '<bytes>') -> Any:
    """:func:`safe_load` of bytes in memory."""
    return RestrictedUnpickler(io.BytesIO(data), source).load()


def safe_load(path: str) -> Any:
    """Unpickle a file of plain data and numpy arrays without running code.

    Args:
        path: The pickle file.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: No such file.
        UnsafePickleError: The pickle names a global that is not plain
            data (the message names the global and the file).
        pickle.UnpicklingError: The file is not a readable pickle (the
            message names the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    with open(path, 'rb') as f:
        try:
            return RestrictedUnpickler(f, path).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
                AttributeError, ImportError, IndexError, KeyError) as exc:
            raise pickle.UnpicklingError(
                f'{path}: not a readable pickle of plain data '
                f'({type(exc).__name__}: {exc})') from None


def to_jsonable(obj: Any, where: str = '') -> Any:
    """Plain data and numpy objects as JSON-serialisable Python values.

    Arrays become nested lists, numpy scalars Python numbers, tuples and
    sets lists (sets sorted when possible), bytes latin-1 strings; dict
    keys become strings. Non-finite floats stay floats (``json`` writes
    them as ``NaN`` / ``Infinity``).

    Args:
        obj: The data (as returned by :func:`safe_load`).
        where: Path of ``obj`` inside the data, for messages.

    Raises:
        TypeError: A value that is not plain data (named by its path).
    """
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in 'biufcSUb?':
            raise TypeError(f'{where or "<root>"}: arrays of dtype '
                            f'{obj.dtype} cannot be exported to JSON')
        if obj.dtype.kind == 'c':
            return to_jsonable(obj.tolist(), where)
        return obj.tolist()
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), where)
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode('latin1')
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, f'{where}/{k}') for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f'{where}[{i}]') for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        try:
            items = sorted(obj)
        except TypeError:
            items = list(obj)
        return [to_jsonable(v, f'{where}{{}}') for v in items]
    if isinstance(obj, np.dtype):
        return str(obj)
    raise TypeError(f'{where or "<root>"}: {type(obj).__name__} is not '
                    'plain data and cannot be exported to JSON')


def export_json(src: Union[str, Any], dst: str, indent: int = None) -> None:
    """Write a pickle (read with :func:`safe_load`) or data as JSON.

    The file appears complete or not at all (written to a temporary file in
    the same folder, then renamed).

    Args:
        src: A pickle file name, or the data itself.
        dst: The JSON file to write.
        indent: ``json.dump`` indentation (None: compact).
    """
    data = safe_load(src) if isinstance(src, str) else src
    doc = to_jsonable(data)
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.json.part')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(doc, f, indent=indent, allow_nan=True)
        os.replace(tmp, dst)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
