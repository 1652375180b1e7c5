"""The restricted unpickler: code-running pickles are refused before any
call, plain data and numpy arrays load, JSON export (function and tool)."""
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest

from cspr_det.cli.errors import run_cli
from cspr_det.datasets import DeepLesionDataset
from cspr_det.utils.safe_pickle import (UnsafePickleError, export_json,
                                        safe_load, safe_loads, to_jsonable)
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RELEASED = osp.join(REPO, 'tests', 'data', 'deeplesion3d',
                    'DeepLesion_manual_1K_test_release.pkl')


class _Payload:
    """Unpickling this calls ``os.system`` and creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _Evil:
    """Unpickling this calls ``eval``, which creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')", ))


def test_malicious_pickle_refused(tmp_path):
    marker = tmp_path / 'marker'
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'val': {'x': _Payload(marker)}}, f)
    with pytest.raises(UnsafePickleError) as info:
        safe_load(str(path))
    msg = str(info.value)
    assert 'posix.system' in msg or 'os.system' in msg or 'nt.system' in msg
    assert str(path) in msg and '\n' not in msg
    assert not marker.exists()
    # the same file really runs code with a bare pickle.load
    with open(path, 'rb') as f:
        pickle.load(f)
    assert marker.exists()


@pytest.mark.parametrize('protocol', [0, 2, 5])
def test_builtin_callables_refused(tmp_path, protocol):
    marker = tmp_path / 'opened'
    data = pickle.dumps([_Evil(marker)], protocol=protocol)
    with pytest.raises(UnsafePickleError, match=r'builtin.*\.eval'):
        safe_loads(data, 'x.pkl')
    assert not marker.exists()


def test_plain_data_and_numpy_roundtrip():
    data = {
        'a': np.arange(6, dtype=np.float32).reshape(2, 3),
        'b': [1, 2.5, 'text', None, True, b'raw', (1, 2), {3, 4}],
        'c': np.float64(1.5),
        'd': np.int64(7),
        'e': np.dtype('int16'),
        'f': np.zeros((0, 6)),
        'g': frozenset({'x'}),
        'h': 1 + 2j,
    }
    for protocol in (0, 2, 3, 4, 5):
        back = safe_loads(pickle.dumps(data, protocol=protocol))
        assert np.array_equal(back['a'], data['a'])
        assert back['a'].dtype == np.float32
        assert back['b'] == data['b'] and back['c'] == 1.5
        assert back['d'] == 7 and back['e'] == np.dtype('int16')
        assert back['f'].shape == (0, 6) and back['g'] == data['g']
        assert back['h'] == 1 + 2j


def test_class_instances_refused():
    from collections import OrderedDict
    with pytest.raises(UnsafePickleError, match='collections.OrderedDict'):
        safe_loads(pickle.dumps(OrderedDict(a=1)))


def test_released_annotations_load():
    data = safe_load(RELEASED)
    assert sorted(data) == ['test', 'val']
    assert len(data['val']) == 200 and len(data['test']) == 800
    assert sum(len(b) for b in data['val'].values()) == 1292
    assert sum(len(b) for b in data['test'].values()) == 4155
    b = data['test']['001344_01_01_012-024']
    assert b.dtype == np.float64 and b.shape[1] == 6


def test_broken_and_missing_files(tmp_path):
    bad = tmp_path / 'bad.pkl'
    bad.write_bytes(pickle.dumps({'a': 1})[:-3])
    with pytest.raises(pickle.UnpicklingError, match='bad.pkl'):
        safe_load(str(bad))
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        safe_load(str(tmp_path / 'nope.pkl'))


def test_json_export(tmp_path):
    out = tmp_path / 'ann.json'
    export_json(RELEASED, str(out))
    with open(out) as f:
        doc = json.load(f)
    ref = safe_load(RELEASED)
    assert doc['test']['001344_01_01_012-024'] == \
        ref['test']['001344_01_01_012-024'].tolist()
    assert sum(len(v) for v in doc['test'].values()) == 4155
    with pytest.raises(TypeError, match='/k'):
        to_jsonable({'k': object()})


def test_pickle_to_json_tool(tmp_path, capsys):
    tool = load_tool('tools/misc/pickle_to_json.py')
    marker = tmp_path / 'marker'
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    out = tmp_path / 'out.json'
    args = tool.parse_args([str(evil), str(out)])
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: tool.main(args))
    assert info.value.code != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and 'system' in lines[0] and 'evil.pkl' in lines[0]
    assert not out.exists() and not marker.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.part')]
    good = tmp_path / 'good.pkl'
    good.write_bytes(pickle.dumps({'x': np.ones((2, 2))}))
    assert tool.main(tool.parse_args([str(good), str(out)])) == 0
    assert json.loads(out.read_text()) == {'x': [[1.0, 1.0], [1.0, 1.0]]}


def test_detection_dataset_pickle_annotations(tmp_path, tiny_deeplesion):
    """A DeepLesion annotation file given as a pickle is read safely: plain
    data loads, a code-running one is refused (and runs nothing)."""
    with open(osp.join(tiny_deeplesion, 'annotations',
                       'deeplesion_val.json')) as f:
        coco = json.load(f)
    good = tmp_path / 'val.pkl'
    good.write_bytes(pickle.dumps(coco))
    ds = DeepLesionDataset(
        ann_file=str(good), data_root=tiny_deeplesion, test_mode=True)
    assert len(ds) == len(coco['images']) > 0
    marker = tmp_path / 'marker'
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps(dict(coco, images=_Payload(marker))))
    with pytest.raises(UnsafePickleError, match='evil.pkl'):
        DeepLesionDataset(
            ann_file=str(evil), data_root=tiny_deeplesion, test_mode=True)
    assert not marker.exists()
