"""tools/analysis_tools/linking_study.py on two tiny sub-volumes with a
randomly initialised detector: the table of the grid, the cached 2D
detections reused without the model, re-linking identical to
predict_subvolume, one combination on another split, bad input."""
import csv
import os
import os.path as osp
import re

import numpy as np
import pytest

from cspr_det.apis import init_detector, read_ct_volume
from cspr_det.apis.subvolume_boxes import link_subvolume, predict_subvolume
from cspr_det.cli.errors import run_cli
from cspr_det.datasets.deeplesion3d_annotations import (load_3d_predictions,
                                                        save_3d_boxes)
from cspr_det.datasets.synthetic.subvolumes import write_nih_subvolume
from ct_fixtures import DEMO, FAST_OPTIONS, synthetic_hu
from tool_loader import load_tool

tool = load_tool('tools/analysis_tools/linking_study.py')
OPTIONS = ['--cfg-options'] + [f'{k}={v}' for k, v in FAST_OPTIONS.items()]
# three slices each: the model's forward passes dominate the test's time
SUBS = {'000001_01_01_011-013': 11, '000002_01_01_001-003': 1}
GRID = [
    '--grid', 'link_iou=0.1,0.5', 'max_gap=0,1', 'min_slices=1',
    'candidate_score=max,mean_len', 'score_thr=0.05', 'extend_thr=none,0.01'
]  # 2 x 2 x 2 x 2 = 16 combinations


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('linking')
    sub_dir = root / 'subvolumes'
    os.makedirs(sub_dir)
    ann = {}
    for i, (name, first) in enumerate(SUBS.items()):
        write_nih_subvolume(
            str(sub_dir / (name + '.nii.gz')), synthetic_hu(depth=3, seed=i),
            (0.7, 0.7, 2.5))
        # the fixture's lesion: x 38.4 +- 6, y 21.6 +- 4, slices 1-3
        ann[name] = np.array([[32, 18, first, 44, 25, first + 2.]])
    save_3d_boxes({
        'val': ann,
        'test': {
            n: ann[n]
            for n in list(SUBS)[:1]
        }
    }, str(root / 'ann.json'))
    return str(sub_dir), str(root / 'ann.json')


def _base(random_detector, dataset, out):
    sub_dir, ann = dataset
    return [
        DEMO, random_detector, '--subvolumes', sub_dir, '--annotations', ann,
        '--out-dir', out, '--no-progress'
    ] + OPTIONS


def _call(args):
    return tool.main(tool.parse_args(args))


def _table(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def study(random_detector, dataset, tmp_path_factory):
    """The grid run once (the model runs on both sub-volumes)."""
    out = str(tmp_path_factory.mktemp('study'))
    base = _base(random_detector, dataset, out)
    assert _call(base + GRID) == 0
    return base, out


def test_study_table_and_cache(study, monkeypatch, capsys):
    base, out = study
    rows = _table(osp.join(out, 'linking_val.csv'))
    assert len(rows) == 16
    means = [float(r['mean_sens']) for r in rows]
    assert means == sorted(means, reverse=True)
    combos = {(r['link_iou'], r['max_gap'], r['candidate_score'],
               r['extend_thr'])
              for r in rows}
    assert len(combos) == 16
    assert {r['extend_thr'] for r in rows} == {'none', '0.0100'}
    with open(osp.join(out, 'linking_val.md')) as f:
        md = f.read().splitlines()
    assert sum(line.startswith('| ') and line[2].isdigit()
               for line in md) == 16
    cached = sorted(os.listdir(osp.join(out, 'detections')))
    assert cached == sorted(n + '.npz' for n in SUBS)

    # a second run with another grid: every sub-volume from the cache,
    # no model built or run
    def no_model(*args, **kwargs):
        raise AssertionError('the model was used')

    monkeypatch.setattr(tool, 'init_detector', no_model)
    monkeypatch.setattr(tool, 'inference_ct', no_model)
    capsys.readouterr()
    assert _call(base + [
        '--grid', 'link_iou=0.3', 'max_gap=0', 'min_slices=1,2',
        'candidate_score=max,sum,mean', 'score_thr=0.05', 'extend_thr=none'
    ]) == 0
    text = capsys.readouterr().out
    assert '2 of 2 sub-volumes cached' in text
    assert re.search(
        r'best: mean sensitivity [0-9.]+ with --params '
        r'link_iou=0.3000 max_gap=0', text)
    assert len(_table(osp.join(out, 'linking_val.csv'))) == 6
    # the same combination gives the same figures as in the first run
    again = _call(base + [
        '--params', 'link_iou=0.1', 'max_gap=1', 'candidate_score=mean_len',
        'extend_thr=0.01'
    ])
    assert again == 0
    one = _table(osp.join(out, 'linking_val.csv'))
    assert len(one) == 1
    first = [
        r for r in rows
        if (r['link_iou'], r['max_gap'], r['candidate_score'],
            r['extend_thr']) == ('0.1000', '1', 'mean_len', '0.0100')
    ]
    assert one[0]['mean_sens'] == first[0]['mean_sens']
    preds = load_3d_predictions(osp.join(out, 'predictions_val.json'))
    assert sorted(preds) == sorted(SUBS)


def test_relinking_equals_predict_subvolume(study, random_detector, dataset):
    """From the cached detections, every option set gives exactly the
    boxes of predict_subvolume (the model run with those options)."""
    _, out = study
    sub_dir, _ = dataset
    model = init_detector(DEMO, random_detector, cfg_options=FAST_OPTIONS)
    name, first = next(iter(SUBS.items()))
    with np.load(osp.join(out, 'detections', name + '.npz')) as z:
        det = {k: z[k] for k in z.files}
    assert det['scores'].dtype == np.float32 and len(det['scores']) > 10
    q = [float(v) for v in np.quantile(det['scores'], [0.2, 0.7])]
    volume = read_ct_volume(osp.join(sub_dir, name + '.nii.gz'))
    last = first + 2
    cases = [
        dict(score_thr=0.05, link_iou=0.3, max_gap=0, top_k=50),
        dict(
            score_thr=q[1],
            link_iou=0.1,
            max_gap=1,
            top_k=5,
            extend_thr=q[0],
            min_slices=2,
            candidate_score='mean_len',
            full_length=2),
        dict(
            score_thr=q[1],
            link_iou=0.5,
            max_gap=0,
            top_k=None,
            candidate_score='sum'),
    ]
    kept = []
    for opts in cases:
        expected, _ = predict_subvolume(
            model, volume, first, last, batch_size=4, **opts)
        got = link_subvolume(det['grid_z'], det['numbers'], det['rows'],
                             det['boxes'], det['scores'], **opts)
        np.testing.assert_array_equal(got, expected)
        kept.append(len(expected))
    assert min(kept) > 0


def test_other_split_and_bad_input(study, dataset, capsys):
    base, out = study
    # the test split (its one sub-volume is cached already)
    assert _call(base + ['--split', 'test', '--params', 'max_gap=1']) == 0
    assert len(_table(osp.join(out, 'linking_test.csv'))) == 1
    for extra, words in ((['--grid',
                           'gap=1'], "--grid: 'gap=1' is not KEY=VALUES"),
                         (['--params', 'score_thr=0.1', 'extend_thr=0.2'],
                          'extend_thr must be <= score_thr'),
                         (['--grid', 'candidate_score=median'],
                          'candidate_score must be among'),
                         (['--det-thr', '0.5'], '--det-thr 0.5 must be in')):
        bad_out = osp.join(out, 'bad')
        args = tool.parse_args(base[:-len(OPTIONS)] + extra)
        args.out_dir = bad_out
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            run_cli(lambda: tool.main(args))
        assert info.value.code != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
        assert not osp.exists(bad_out)
