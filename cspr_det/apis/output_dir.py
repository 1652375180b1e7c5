"""Writing a set of result files all at once: into a temporary folder next
to the output folder, moved into place only when every file is written, so
a failure leaves no partial output."""
import contextlib
import os
import os.path as osp
import shutil
import tempfile
from typing import Iterator, List


class StagedOutput:
    """The temporary folder of :func:`staged_output` and the files moved
    out of it (``written``, absolute paths, filled on success)."""

    def __init__(self, tmp: str, out_dir: str) -> None:
        self.tmp = tmp
        self.out_dir = out_dir
        self.written: List[str] = []

    def path(self, name: str) -> str:
        """Where to write ``name`` (relative to the output folder)."""
        path = osp.join(self.tmp, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        return path


@contextlib.contextmanager
def staged_output(out_dir: str,
                  prefix: str = '.infer-') -> Iterator[StagedOutput]:
    """Stage files for ``out_dir``: write them with ``stage.path(name)``;
    when the block ends without an exception they are moved into
    ``out_dir`` (created; files of the same names are replaced), else the
    temporary folder is removed and ``out_dir`` is left as it was."""
    out_dir = osp.abspath(out_dir)
    if osp.isfile(out_dir):
        raise NotADirectoryError(f'output folder {out_dir} is a file')
    parent = osp.dirname(out_dir)
    made_parent = not osp.isdir(parent)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    stage = StagedOutput(tmp, out_dir)
    ok = False
    try:
        yield stage
        for root, _, files in os.walk(tmp):
            for name in sorted(files):
                rel = osp.relpath(osp.join(root, name), tmp)
                dst = osp.join(out_dir, rel)
                os.makedirs(osp.dirname(dst), exist_ok=True)
                os.replace(osp.join(root, name), dst)
                stage.written.append(dst)
        ok = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not ok and made_parent:
            with contextlib.suppress(OSError):
                os.rmdir(parent)
    stage.written.sort()
