"""Check that moving and renaming config files left every merged config equal.

Every ``configs/**/*.py`` of an earlier git revision is loaded twice with
mmengine's ``Config.fromfile``: from a copy of that revision's ``configs/``
tree (``git archive``) and from its new path in the working tree (the old
path mapped through the table of ``configs/MOVED.md``; unmapped files keep
their path). The merged dicts (``cfg.to_dict()``) and ``cfg.pretty_text``
must be equal; both leave out ``_base_`` and file names, so only the paths
in the ``_base_`` lists may differ. Base files are compared too.

Example:
    python tools/misc/check_config_move.py --rev 9f1c2d3 \
        --mapping configs/MOVED.md

prints one line per config (``same``, ``DIFFERENT`` or ``MISSING``) and a
summary, and exits with 1 when any config differs or is missing.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tarfile
import tempfile
import warnings
from typing import Dict, List, Tuple

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ROW = re.compile(r'^\|\s*`([^`]+\.py)`\s*\|\s*`([^`]+\.py)`\s*\|')


def read_mapping(path: str) -> Dict[str, str]:
    """Read ``| `old.py` | `new.py` |`` rows of a Markdown table.

    Args:
        path (str): the mapping file (``configs/MOVED.md``).

    Returns:
        dict: old repository-relative path -> new path.
    """
    mapping = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            m = ROW.match(line.strip())
            if m:
                mapping[m.group(1)] = m.group(2)
    if not mapping:
        raise ValueError(f'{path}: no "| `old.py` | `new.py` |" rows found')
    return mapping


def export_revision(rev: str, dest: str) -> List[str]:
    """Write ``configs/`` of ``rev`` into ``dest``.

    Args:
        rev (str): any git revision of this repository.
        dest (str): an empty folder.

    Returns:
        list[str]: the repository-relative paths of its ``.py`` configs.
    """
    archive = osp.join(dest, 'configs.tar')
    with open(archive, 'wb') as f:
        subprocess.run(['git', '-C', REPO, 'archive', rev, 'configs'],
                       stdout=f,
                       check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter='data')
    os.remove(archive)
    paths = []
    for root, _, files in os.walk(osp.join(dest, 'configs')):
        for name in files:
            if name.endswith('.py'):
                paths.append(osp.relpath(osp.join(root, name), dest))
    return sorted(paths)


def merged(path: str) -> Tuple[str, str]:
    """The merged config of ``path`` as canonical JSON and pretty text."""
    cfg = Config.fromfile(path, import_custom_modules=False)
    as_dict = cfg.to_dict()
    as_dict.pop('_base_', None)
    return (json.dumps(as_dict, sort_keys=True, default=repr), cfg.pretty_text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--rev', required=True, help='git revision before the move')
    parser.add_argument(
        '--mapping',
        default=osp.join(REPO, 'configs', 'MOVED.md'),
        help='Markdown table old path -> new path')
    args = parser.parse_args(argv)
    # mmengine resolves `mmdet::` bases through pkg_resources, which warns on
    # every load; the check has nothing to say about it.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    try:
        mapping = read_mapping(args.mapping)
    except (OSError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        try:
            old_paths = export_revision(args.rev, tmp)
        except subprocess.CalledProcessError:
            print(
                f'error: cannot export configs/ of revision {args.rev!r}',
                file=sys.stderr)
            return 2
        unused = set(mapping) - set(old_paths)
        for old in old_paths:
            new = mapping.get(old, old)
            if not osp.isfile(osp.join(REPO, new)):
                print(f'MISSING   {old} -> {new}')
                failures += 1
                continue
            same = merged(osp.join(tmp, old)) == merged(osp.join(REPO, new))
            failures += not same
            arrow = f' -> {new}' if new != old else ''
            print(f"{'same     ' if same else 'DIFFERENT'} {old}{arrow}")
        for old in sorted(unused):
            print(f'MISSING   {old} (in the mapping, not at {args.rev})')
            failures += 1
    print(f'{len(old_paths)} configs at {args.rev}, {len(mapping)} moved, '
          f'{failures} different or missing')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
