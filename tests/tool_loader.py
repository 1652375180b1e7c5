"""Import a script under ``tools/`` (not a package) as a module in tests."""
import importlib.util
import os.path as osp
from types import ModuleType

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(relpath: str) -> ModuleType:
    """Load ``REPO/relpath`` (e.g. ``'tools/train.py'``) as a fresh module
    named after the file."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(relpath))[0], osp.join(REPO, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
