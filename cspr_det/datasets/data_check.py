"""Fast checks that a dataset's files exist and match what its index
records, and skipping of samples that turn unreadable during training.

The start-up data check of ``tools/train.py`` calls ``check_data()`` of the
training and validation datasets; each dataset checks its files with the
helpers here, reading headers only:

- ``.npy`` arrays: the header (``numpy.lib.format``) and the file size
  against the header's shape and dtype (a truncated file is found without
  reading its data);
- ``.npz`` files: the zip directory and every member's ``.npy`` header (only
  the first bytes of each member are decompressed) and the member's size in
  the zip directory against its header;
- PNG files: existence, non-zero size and the 33-byte signature + IHDR chunk
  (width, height, bit depth).

A sample that cannot be read later, during training (a loader raises
:class:`UnreadableSampleError` or ``FileNotFoundError``), is skipped with a
warning naming it and a running count (:class:`SkipUnreadableMixin`).
"""
import logging
import os
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

#: Threads of the header checks (file-system latency, not CPU, bounds them).
CHECK_THREADS = 8
#: Names listed per dataset in the one-line summary.
MAX_LISTED = 5

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
#: ``(sample name, what is wrong)``.
Problem = Tuple[str, str]


class UnreadableSampleError(ValueError):
    """A sample's file is truncated, corrupt or not what the index records
    (raised by the loading transforms; the message names the sample)."""


class DataCheckError(ValueError):
    """The start-up data check found missing or damaged files (one-line
    message listing them)."""


@dataclass
class DataCheckReport:
    """What ``check_data()`` of one dataset found.

    Attributes:
        checked: Number of samples (cases, nodules, images) checked.
        problems: ``(sample name, what is wrong)`` pairs that stop training.
        notes: ``(sample name, remark)`` pairs worth a warning only (e.g.
            missing DeepLesion context slices, which the loader replaces by
            the nearest slice).
        unit: Name of a sample in messages (``'case'``, ``'nodule'``, ...).
    """

    checked: int = 0
    problems: List[Problem] = field(default_factory=list)
    notes: List[Problem] = field(default_factory=list)
    unit: str = 'sample'


# --------------------------------------------------------------------- #
# file checks
# --------------------------------------------------------------------- #
def read_npy_header(f) -> Tuple[tuple, np.dtype, int]:
    """Shape, dtype and header length of the ``.npy`` stream ``f`` (at its
    start); reads the header only.

    Raises:
        ValueError: Not an ``.npy`` header (numpy's message).
    """
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return tuple(int(v) for v in shape), dtype, f.tell()


def _array_bytes(shape: Sequence[int], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


def check_npy(path: str,
              shape: Optional[Sequence[int]] = None,
              dtype=None) -> Optional[str]:
    """What is wrong with one ``.npy`` file, or None.

    Checks that the file exists, has a readable header, holds exactly the
    bytes its header announces (truncation) and, when given, the ``shape``
    and ``dtype``. Reads the header only.

    Args:
        path: The ``.npy`` file.
        shape: Expected shape (e.g. the index's (D, H, W)).
        dtype: Expected dtype.

    Returns:
        str | None: A short description (without the path), None if fine.
    """
    try:
        size = os.path.getsize(path)
        with open(path, 'rb') as f:
            got_shape, got_dtype, offset = read_npy_header(f)
    except FileNotFoundError:
        return 'not found'
    except (OSError, ValueError, EOFError) as err:
        return f'not a readable .npy ({err})'
    if got_dtype.hasobject:
        return 'holds Python objects'
    expected = offset + _array_bytes(got_shape, got_dtype)
    if size < expected:
        return f'truncated: {size} of {expected} bytes'
    if size > expected:
        return f'{size} bytes, its header needs {expected}'
    if shape is not None and got_shape != tuple(int(v) for v in shape):
        return f'shape {got_shape}, the index records {tuple(shape)}'
    if dtype is not None and got_dtype != np.dtype(dtype):
        return f'dtype {got_dtype}, expected {np.dtype(dtype)}'
    return None


def npz_headers(path: str) -> Dict[str, Tuple[tuple, np.dtype]]:
    """Shapes and dtypes of the arrays of an ``.npz`` without reading them.

    Reads the zip directory and decompresses only the ``.npy`` header of
    each member; a member whose size in the zip directory differs from its
    header's shape and dtype is an error (a damaged or rewritten member).

    Args:
        path: The ``.npz`` file.

    Returns:
        dict: array name -> ``(shape, dtype)``.

    Raises:
        FileNotFoundError: No such file.
        OSError, zipfile.BadZipFile, ValueError, EOFError, zlib.error:
            unreadable file, directory or header.
    """
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith('.npy'):
                continue
            name = info.filename[:-4]
            with zf.open(info) as f:
                shape, dtype, offset = read_npy_header(f)
            expected = offset + _array_bytes(shape, dtype)
            if info.file_size != expected:
                raise ValueError(f'array {name!r} holds {info.file_size} '
                                 f'bytes, its header needs {expected}')
            out[name] = (shape, dtype)
    return out


#: Errors of :func:`npz_headers` that mean "this file is damaged".
NPZ_ERRORS = (OSError, zipfile.BadZipFile, ValueError, EOFError, zlib.error)


def png_header(path: str) -> Tuple[int, int, int]:
    """Width, height and bit depth from the first 33 bytes of a PNG.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Empty file, or no PNG signature / IHDR chunk.
    """
    with open(path, 'rb') as f:
        head = f.read(33)
    if not head:
        raise ValueError('empty file')
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or \
            head[12:16] != b'IHDR':
        raise ValueError('not a PNG (no signature / IHDR chunk)')
    width, height, bit_depth = struct.unpack('>IIB', head[16:25])
    return width, height, bit_depth


def check_png(path: str,
              width: Optional[int] = None,
              height: Optional[int] = None,
              bit_depth: Optional[int] = None) -> Optional[str]:
    """What is wrong with one PNG (existence, size > 0, header and the
    recorded width / height / bit depth), or None; reads 33 bytes."""
    try:
        got_w, got_h, got_depth = png_header(path)
    except FileNotFoundError:
        return 'not found'
    except (OSError, ValueError) as err:
        return str(err)
    if (width is not None and got_w != int(width)) or \
            (height is not None and got_h != int(height)):
        return (f'{got_w} x {got_h} pixels, the index records '
                f'{width} x {height}')
    if bit_depth is not None and got_depth != bit_depth:
        return f'{got_depth}-bit, expected {bit_depth}-bit'
    return None


def check_file_size(path: str) -> Optional[str]:
    """'not found' / 'empty file' / None."""
    try:
        return None if os.path.getsize(path) > 0 else 'empty file'
    except FileNotFoundError:
        return 'not found'
    except OSError as err:
        return f'unreadable ({err})'


def run_checks(items: Iterable,
               check: Callable[[object], Optional[Problem]]) -> List[Problem]:
    """``check(item)`` for every item on :data:`CHECK_THREADS` threads;
    the ``(name, problem)`` results that are not None, in item order."""
    items = list(items)
    if len(items) < 2 * CHECK_THREADS:
        results = [check(item) for item in items]
    else:
        with ThreadPoolExecutor(CHECK_THREADS) as pool:
            results = list(pool.map(check, items))
    return [r for r in results if r is not None]


def summarize(label: str,
              report: DataCheckReport,
              limit: int = MAX_LISTED,
              notes: bool = False) -> str:
    """``'<label>: 2 of 6 cases: a (why); b (why)'`` (the first ``limit``
    names, then ``'... and N more'``) of the problems (or ``notes``)."""
    pairs = report.notes if notes else report.problems
    names = '; '.join(f'{name} ({why})' for name, why in pairs[:limit])
    if len(pairs) > limit:
        names += f'; ... and {len(pairs) - limit} more'
    return (f'{label}: {len(pairs)} of {report.checked} '
            f'{report.unit}s: {names}')


# --------------------------------------------------------------------- #
# skipping unreadable samples during training
# --------------------------------------------------------------------- #
class SkipUnreadableMixin:
    """Skip a training sample whose files cannot be read, with a warning.

    Put before :class:`mmengine.dataset.BaseDataset` in the bases. When the
    pipeline raises :class:`UnreadableSampleError` or ``FileNotFoundError``
    for a sample outside ``test_mode`` (and :meth:`skip_unreadable` is
    true), ``prepare_data`` logs a warning naming the sample with the
    running count of skipped samples (per loader process) and returns None,
    so that mmengine's ``__getitem__`` draws another sample instead of
    ending the run. In ``test_mode`` the error is raised: evaluation must
    not silently leave samples out.

    Attributes:
        num_unreadable: Samples skipped so far in this process.
        unreadable_samples: Sample name -> last error message.
    """

    #: ``data_info`` key that names a sample in messages.
    SAMPLE_NAME_KEY = 'case_id'

    def skip_unreadable(self) -> bool:
        """Whether unreadable samples are skipped (default: training)."""
        return not self.test_mode

    def prepare_data(self, idx: int):
        """The pipeline's output for sample ``idx``, or None when its files
        cannot be read during training (see the class docstring)."""
        try:
            return super().prepare_data(idx)
        except (UnreadableSampleError, FileNotFoundError) as err:
            if self.test_mode or not self.skip_unreadable():
                raise
            info = self.get_data_info(idx)
            name = info.get(self.SAMPLE_NAME_KEY) or info.get('img_path')
            if not hasattr(self, 'unreadable_samples'):
                self.unreadable_samples = {}
                self.num_unreadable = 0
            self.num_unreadable += 1
            self.unreadable_samples[str(name)] = str(err)
            print_log(
                f'{type(self).__name__}: skipped unreadable sample {name} '
                f'({err}); {self.num_unreadable} skip(s) of '
                f'{len(self.unreadable_samples)} unreadable sample(s) so far',
                logger='current',
                level=logging.WARNING)
            return None


__all__ = [
    'CHECK_THREADS', 'DataCheckError', 'DataCheckReport', 'MAX_LISTED',
    'NPZ_ERRORS', 'SkipUnreadableMixin', 'UnreadableSampleError',
    'check_file_size', 'check_npy', 'check_png', 'npz_headers', 'png_header',
    'read_npy_header', 'run_checks', 'summarize'
]
