"""``import cspr_det``: environment checks and the package's public names."""
import importlib
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.registry import Registry

import cspr_det

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Hide pkg_resources as a setuptools without it (>= 82) would: a meta-path
# finder that refuses the name, so both find_spec and import fail.
_BLOCK_PKG_RESOURCES = '''
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == 'pkg_resources' or name.startswith('pkg_resources.'):
            raise ModuleNotFoundError("No module named 'pkg_resources'",
                                      name=name)
        return None
sys.modules.pop('pkg_resources', None)
sys.meta_path.insert(0, _Block())
{how}
import cspr_det
'''


def _import_without_pkg_resources(
        how: str = '') -> subprocess.CompletedProcess:
    code = _BLOCK_PKG_RESOURCES.format(how=how)
    return subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=120)


def _setuptools_requirement() -> str:
    path = osp.join(REPO, 'requirements', 'setuptools.txt')
    lines = [ln.strip() for ln in open(path) if ln.strip()]
    reqs = [ln for ln in lines if not ln.startswith('#')]
    assert len(reqs) == 1, reqs
    return reqs[0]


def test_missing_pkg_resources_fails_with_one_line_saying_what_to_run():
    proc = _import_without_pkg_resources()
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    expected = ('ImportError: pkg_resources is missing (setuptools>=82 '
                'removed it; mmengine needs it): run  pip install '
                f"'{_setuptools_requirement()}'")
    assert last == expected, proc.stderr
    # the check runs before mmengine's machinery can fail somewhere deeper
    assert osp.join('site-packages', 'mmengine') not in proc.stderr
    assert osp.join('cspr_det', '__init__.py') in proc.stderr


def test_pkg_resources_set_to_none_is_reported_too():
    # the other way a module is hidden: sys.modules[name] = None
    proc = _import_without_pkg_resources(
        "sys.meta_path.pop(0); sys.modules['pkg_resources'] = None")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'ImportError: pkg_resources is missing'), proc.stderr


def test_import_registers_scope_and_public_names():
    assert cspr_det.__all__ == ['__version__', 'version_info']
    assert cspr_det.__version__.count('.') >= 1
    assert cspr_det.version_info[:2] == tuple(
        int(x) for x in cspr_det.__version__.split('.')[:2])
    assert cspr_det.registry.MODELS.scope == 'cspr_det'


def _cspr_registries():
    return {
        name: obj
        for name, obj in vars(cspr_det.registry).items()
        if isinstance(obj, Registry) and obj.scope == 'cspr_det'
    }


def test_every_registry_location_is_a_module():
    registries = _cspr_registries()
    assert {
        'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'VISUALIZERS'
    } <= set(registries)
    for name, reg in registries.items():
        assert reg._locations, name
        for location in reg._locations:
            # a location naming a missing module would only fail at the
            # first lookup of a name in that registry, inside a Runner
            assert importlib.util.find_spec(location) is not None, \
                f'{name} points at {location}, which does not exist'
            importlib.import_module(location)


@pytest.mark.parametrize('package', [
    'cspr_det.datasets', 'cspr_det.datasets.transforms',
    'cspr_det.models.layers', 'cspr_det.models.necks', 'cspr_det.fileio'
])
def test_all_lists_name_each_export_once(package):
    module = importlib.import_module(package)
    names = module.__all__
    assert len(names) == len(set(names)), package
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f'{package}.__all__ names missing objects {missing}'


@pytest.mark.parametrize('registry_name, package', [
    ('TRANSFORMS', 'cspr_det.datasets.transforms'),
    ('DATASETS', 'cspr_det.datasets'),
    ('CT_READERS', 'cspr_det.fileio'),
])
def test_every_registered_class_is_exported(registry_name, package):
    reg = _cspr_registries()[registry_name]
    reg.import_from_location()
    module = importlib.import_module(package)
    unlisted = sorted(set(reg.module_dict) - set(module.__all__))
    assert not unlisted, f'registered but not in {package}.__all__: ' \
                         f'{unlisted}'
