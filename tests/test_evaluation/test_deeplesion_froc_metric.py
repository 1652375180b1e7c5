"""Tests of DeepLesionFROCMetric on hand-made data samples, its report files,
the detection dump and tools/analysis_tools/rescore_detections.py."""
import csv
import json
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from cspr_det.evaluation import DeepLesionFROCMetric, format_table
from cspr_det.evaluation.metrics.deeplesion_strata import (interval_bin_names,
                                                           size_bin_names)
from cspr_det.evaluation.metrics.detection_dump import load_detection_dump
from tool_loader import load_tool


def _lesion(bbox, lesion_type, noisy, long_px):
    return dict(
        bbox=list(bbox),
        lesion_type=lesion_type,
        noisy=noisy,
        diameters=[long_px, long_px / 2],
        bbox_label=0,
        ignore_flag=0)


# img, slice interval, spacing, lesions, detections (box, score)
#   img 0 (1 mm, 0.8 mm/px): L0 liver [0,0,10,10] 15 px = 12 mm,
#                            L1 lung noisy [20,20,30,30]
#   img 1 (5 mm, 0.5 mm/px): L2 lung [0,0,10,10] 80 px = 40 mm
#   img 2 (1 mm, 1 mm/px):   L3 liver noisy [0,0,10,10] 5 px = 5 mm (only a
#                            noisy lesion: dropped with 'drop')
#   img 3 (2 mm, 1 mm/px):   L4 unknown type [40,40,50,50] 20 px = 20 mm
FAKE = [
    (1.0, [0.8, 0.8, 1.0],
     [_lesion([0, 0, 10, 10], 4, 0, 15),
      _lesion([20, 20, 30, 30], 5, 1, 10)], [([0, 0, 10, 10], 0.9),
                                             ([20, 20, 30, 30], 0.35)]),
    (5.0, [0.5, 0.5, 5.0], [_lesion([0, 0, 10, 10], 5, 0,
                                    80)], [([100, 100, 110, 110], 0.8),
                                           ([0, 0, 10, 10], 0.3)]),
    (1.0, [1.0, 1.0, 1.0], [_lesion([0, 0, 10, 10], 4, 1,
                                    5)], [([0, 0, 10, 10], 0.7)]),
    (2.0, [1.0, 1.0, 2.0], [_lesion([40, 40, 50, 50], -1, 0,
                                    20)], [([60, 60, 70, 70], 0.6),
                                           ([40, 40, 50, 50], 0.2)]),
]


def fake_samples(as_dict=True):
    samples = []
    for i, (interval, spacing, lesions, dets) in enumerate(FAKE):
        ds = DetDataSample(
            metainfo=dict(
                img_id=f'00000{i}_01_01_010',
                img_path=f'img{i}.png',
                ori_shape=(512, 512),
                instances=lesions,
                slice_interval=interval,
                spacing=spacing))
        pred = InstanceData()
        pred.bboxes = torch.tensor([d[0] for d in dets], dtype=torch.float32)
        pred.scores = torch.tensor([d[1] for d in dets])
        pred.labels = torch.zeros(len(dets), dtype=torch.long)
        ds.pred_instances = pred
        samples.append(ds.to_dict() if as_dict else ds)
    return samples


def run_metric(as_dict=True, batches=(2, 2), **kwargs):
    kwargs.setdefault('save_files', False)
    metric = DeepLesionFROCMetric(**kwargs)
    samples = fake_samples(as_dict)
    start = 0
    for n in batches:
        metric.process({}, samples[start:start + n])
        start += n
    return metric, metric.evaluate(len(samples))


def test_drop_protocol_hand_computed():
    # noisy='drop': L1, L3 removed, image 2 removed with its detection;
    # the detection on the removed noisy L1 becomes an FP. 3 images, 3
    # lesions. Sorted walk (FPs, found):
    #  .9 img0 L0 (0,1) | .8 img1 FP (1,1) | .6 img3 FP (2,1)
    #  .35 img0 FP (3,1) | .3 img1 L2 (3,2) | .2 img3 L4 (3,3)
    # rates /3: 0 0 1/3 2/3 1 1 1; sens /3: 0 1 1 1 1 2 3
    # @0.5: between (1/3, 1/3) and (2/3, 1/3) -> 1/3
    # @1 exact: last point at rate 1 -> 1 (exact_rate='last'); @2.. clamped
    _, res = run_metric(noisy='drop', exact_rate='last')
    assert res['deeplesion/num_images'] == 3
    assert res['deeplesion/num_lesions'] == 3
    assert res['deeplesion/sens@0.5'] == pytest.approx(1 / 3)
    for f in (1, 2, 4, 8, 16):
        assert res[f'deeplesion/sens@{f}'] == pytest.approx(1.0)
    assert res['deeplesion/mean_sens'] == pytest.approx((1 / 3 + 3) / 4)
    # strata (FP axis of all images): liver L0 found at point 1 -> 1 at
    # every rate; lung L2 found at point 5: 0 @0.5, 1 from @1 -> mean .75
    assert res['deeplesion/type_liver'] == pytest.approx(1.0)
    assert res['deeplesion/type_lung'] == pytest.approx(0.75)
    assert 'deeplesion/type_bone' not in res  # no bone lesion
    # sizes: L0 12 mm and L4 20 mm -> 10-30 (1/2 @0.5 then 1): .875;
    # L2 40 mm -> >=30: .75; no lesion < 10 mm left
    assert res['deeplesion/size_10-30mm'] == pytest.approx(0.875)
    assert res['deeplesion/size_>=30mm'] == pytest.approx(0.75)
    assert 'deeplesion/size_<10mm' not in res
    # slice-interval bins: thin (<= 1.5 mm): L0 (1 mm) -> 1; thick (> 3.5
    # mm): L2 (5 mm) -> .75; 1.5-3.5 mm: L4 (2 mm, point 6) -> 0 @0.5 then
    # 1 -> .75
    assert res['deeplesion/interval_<=1.5mm'] == pytest.approx(1.0)
    assert res['deeplesion/interval_>3.5mm'] == pytest.approx(0.75)
    assert res['deeplesion/interval_1.5-3.5mm'] == pytest.approx(0.75)
    assert not [
        k for k in res if k.startswith('deeplesion/interval_')
        and k.split('_', 1)[1] not in ('<=1.5mm', '1.5-3.5mm', '>3.5mm')
    ]
    # COCO AP50: TP FP FP FP TP TP for 3 lesions: precision 1 up to recall
    # 1/3 (34 of the 101 recall thresholds), then max(2/5, 3/6) = .5
    assert res['deeplesion/ap50'] == pytest.approx((34 + 67 * 0.5) / 101)


def test_keep_protocol_changes_the_image_count():
    # noisy='keep': 4 images, 5 lesions. Walk:
    #  .9 L0 (0,1) | .8 FP (1,1) | .7 L3 (1,2) | .6 FP (2,2) | .35 L1 (2,3)
    #  | .3 L2 (2,4) | .2 L4 (2,5); rates /4: 0 0 .25 .25 .5 .5 .5 .5
    # @0.5 exact: with exact_rate='last' the last point at .5 -> 5/5; with
    # exact_rate='first' (the default) the 2nd FP's point -> 2/5. Beyond .5
    # clamped -> 1.
    _, res = run_metric(noisy='keep', exact_rate='last')
    assert res['deeplesion/num_images'] == 4
    assert res['deeplesion/num_lesions'] == 5
    assert res['deeplesion/sens@0.5'] == pytest.approx(1.0)
    assert res['deeplesion/size_<10mm'] == pytest.approx(1.0)  # L3
    _, first = run_metric(noisy='keep', exact_rate='first')
    assert first['deeplesion/sens@0.5'] == pytest.approx(0.4)
    _, default = run_metric(noisy='keep')
    assert default['deeplesion/sens@0.5'] == pytest.approx(0.4)


def test_detdatasample_objects_and_dicts_agree():
    _, a = run_metric(as_dict=True, compute_ap50=False)
    _, b = run_metric(as_dict=False, batches=(1, 3), compute_ap50=False)
    assert a == b
    assert 'deeplesion/ap50' not in a


def test_options_reach_the_froc():
    # the detections match the lesions exactly, so IoBB with +1 widths
    # gives the same numbers; the protocol is recorded in the report
    metric, iobb = run_metric(
        overlap='iobb',
        plus_one=True,
        compute_ap50=False,
        fps=(0.5, 1),
        lesion_type_names={4: 'LIVER'})
    assert iobb['deeplesion/sens@0.5'] == pytest.approx(1 / 3)
    protocol = metric.last_report['protocol']
    assert protocol['overlap'] == 'iobb' and protocol['plus_one']
    assert protocol['fps'] == [0.5, 1.0]
    assert 'deeplesion/type_LIVER' in iobb
    assert 'deeplesion/type_type5' in iobb  # a code without a name
    assert 'deeplesion/sens@2' not in iobb
    with pytest.raises(ValueError, match='iou_thr'):
        DeepLesionFROCMetric(iou_thr=1.5)
    with pytest.raises(ValueError, match='noisy'):
        DeepLesionFROCMetric(noisy='ignore')
    with pytest.raises(ValueError, match='overlap'):
        DeepLesionFROCMetric(overlap='dice')


def test_missing_instances_meta_gives_a_clear_error():
    metric = DeepLesionFROCMetric()
    sample = fake_samples()[0]
    del sample['instances']
    with pytest.raises(KeyError, match="meta_keys must include 'instances'"):
        metric.process({}, [sample])


def test_builds_from_config_in_mmdet_scope():
    init_default_scope('mmdet')
    evaluator = Evaluator(
        dict(
            type='cspr_det.DeepLesionFROCMetric',
            noisy='keep',
            compute_ap50=False,
            save_files=False))
    evaluator.process(fake_samples(), {})
    res = evaluator.evaluate(4)
    assert res['deeplesion/num_images'] == 4


def test_report_files(tmp_path):
    metric, res = run_metric(out_dir=str(tmp_path), save_files=True)
    for name in ('froc.json', 'froc.csv', 'froc_curve.png'):
        assert (tmp_path / name).stat().st_size > 0
    report = json.loads((tmp_path / 'froc.json').read_text())
    assert report['protocol']['noisy'] == 'drop'
    assert report['dropped_images'] == 1
    assert report['dropped_noisy_lesions'] == 2
    assert report['metrics']['mean_sens'] == pytest.approx(
        res['deeplesion/mean_sens'])
    assert report['clamped'] == [False, False, True, True, True, True]
    with open(tmp_path / 'froc.csv') as f:
        rows = list(csv.DictReader(f))
    assert rows[0]['stratum'] == 'all' and rows[0]['num_lesions'] == '3'
    assert float(rows[0]['sens@0.5']) == pytest.approx(1 / 3)
    names = [r['stratum'] for r in rows]
    assert {
        'liver', 'lung', '10-30mm', '>=30mm', 'interval_<=1.5mm',
        'interval_>3.5mm'
    } <= set(names)
    assert report['protocol']['interval_bins_mm'] == [1.5, 3.5]
    assert report['strata_counts']['interval'] == dict(
        bins=[
            dict(name='interval_<=1.5mm', num_lesions=1),
            dict(name='interval_1.5-3.5mm', num_lesions=1),
            dict(name='interval_>3.5mm', num_lesions=1)
        ],
        unknown=0)
    png = (tmp_path / 'froc_curve.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'


def test_work_dir_attribute_is_used(tmp_path):
    metric = DeepLesionFROCMetric(compute_ap50=False)
    metric.work_dir = str(tmp_path)
    metric.process({}, fake_samples())
    metric.evaluate(4)
    assert (tmp_path / 'froc.csv').exists()
    off = DeepLesionFROCMetric(
        out_dir=str(tmp_path / 'x'), save_files=False, compute_ap50=False)
    assert off.resolve_out_dir() is None


def test_dump_and_rescore_round_trip(tmp_path, capsys):
    dump = tmp_path / 'dets' / 'dump.json'
    _, drop = run_metric(dump_detections=str(dump))
    records, meta = load_detection_dump(str(dump))
    assert len(records) == 4  # the dump keeps every image and lesion
    assert meta['protocol_at_dump']['noisy'] == 'drop'
    assert sum(len(r['instances']) for r in records) == 5
    tool = load_tool('tools/analysis_tools/rescore_detections.py')
    out = tool.main(
        tool.parse_args([str(dump), '--out-dir',
                         str(tmp_path / 'rescored')]))
    assert out == {k.split('/', 1)[1]: v for k, v in drop.items()}
    assert 'noisy=drop' in capsys.readouterr().out
    assert (tmp_path / 'rescored' / 'froc_curve.png').exists()
    # another protocol from the same dump equals the metric run with it
    _, keep = run_metric(noisy='keep', overlap='iobb', iou_thr=0.3)
    out = tool.main(
        tool.parse_args([
            str(dump), '--noisy', 'keep', '--overlap', 'iobb', '--iou-thr',
            '0.3'
        ]))
    assert out == {k.split('/', 1)[1]: v for k, v in keep.items()}


def test_rescore_takes_the_strata_of_the_dumping_metric(tmp_path):
    # the dumping metric had one interval edge and no size strata: the
    # re-scored keys are the metric's unless the options say otherwise
    dump = tmp_path / 'dump.json'
    _, dumped = run_metric(
        dump_detections=str(dump),
        interval_bins_mm=[3],
        size_bins_mm=None,
        compute_ap50=False)
    tool = load_tool('tools/analysis_tools/rescore_detections.py')
    out = tool.main(tool.parse_args([str(dump), '--no-ap50']))
    assert out == {k.split('/', 1)[1]: v for k, v in dumped.items()}
    assert {k
            for k in out if k.startswith(('size_', 'interval_'))
            } == {'interval_<=3mm', 'interval_>3mm'}
    out = tool.main(
        tool.parse_args([
            str(dump), '--no-ap50', '--size-bins', '15', '--interval-bins',
            '1.5', '3.5'
        ]))
    assert {k
            for k in out if k.startswith(('size_', 'interval_'))} == {
                'size_<15mm', 'size_>=15mm', 'interval_<=1.5mm',
                'interval_1.5-3.5mm', 'interval_>3.5mm'
            }


def test_rescore_rejects_a_bad_file(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'images': []}))
    with pytest.raises(ValueError, match='not a cspr_det detection dump'):
        load_detection_dump(str(bad))
    with pytest.raises(FileNotFoundError, match='not found'):
        load_detection_dump(str(tmp_path / 'missing.json'))


def test_size_bin_names():
    assert size_bin_names((10, 30)) == ['<10mm', '10-30mm', '>=30mm']
    assert size_bin_names((5, 12.5)) == ['<5mm', '5-12.5mm', '>=12.5mm']


def test_interval_bin_names():
    assert interval_bin_names((1.5, 3.5)) == [
        'interval_<=1.5mm', 'interval_1.5-3.5mm', 'interval_>3.5mm'
    ]
    assert interval_bin_names([2]) == ['interval_<=2mm', 'interval_>2mm']
    with pytest.raises(ValueError, match='interval_bins_mm must be'):
        interval_bin_names((3.5, 1.5))
    with pytest.raises(ValueError, match='interval_bins_mm must be'):
        DeepLesionFROCMetric(interval_bins_mm=(0, 2))
    with pytest.raises(ValueError, match='size_bins_mm must be'):
        DeepLesionFROCMetric(size_bins_mm=(30, 10))


def _interval_samples(intervals):
    """One image per slice interval, one lesion each, found at once."""
    samples = []
    for i, z in enumerate(intervals):
        samples.append(
            dict(
                img_id=i,
                img_path=f'{i}.png',
                slice_interval=z,
                spacing=[0.8, 0.8, z],
                instances=[_lesion([10, 10, 30, 30], 4, 0, 20)],
                pred_instances=dict(
                    bboxes=torch.tensor([[10., 10., 30., 30.]]),
                    scores=torch.tensor([0.9]))))
    return samples


def test_interval_bins_edges_and_counts():
    # DeepLesion-like intervals: 1.5 is thin (upper edge inclusive), 3.5 is
    # in 1.5-3.5, 3.6 is thick; a 10 mm edge adds an empty bin whose count
    # (0) is still reported; one image without interval is 'unknown'
    metric = DeepLesionFROCMetric(
        interval_bins_mm=(1.5, 3.5, 10), compute_ap50=False, save_files=False)
    samples = _interval_samples(
        [0.625, 1.0, 1.5, 1.6, 2.5, 3.5, 3.6, 5.0, 5.0])
    samples[-1]['slice_interval'] = None
    samples[-1]['spacing'] = None
    metric.process({}, samples)
    res = metric.evaluate(len(samples))
    counts = metric.last_report['strata_counts']['interval']
    assert [b['num_lesions'] for b in counts['bins']] == [3, 3, 2, 0]
    assert counts['unknown'] == 1
    assert res['deeplesion/interval_<=1.5mm'] == pytest.approx(1.0)
    assert 'deeplesion/interval_>10mm' not in res  # empty: no metric
    text = format_table(metric.last_report)
    assert ('lesions per slice-interval bin: interval_<=1.5mm: 3, '
            'interval_1.5-3.5mm: 3, interval_3.5-10mm: 2, '
            'interval_>10mm: 0; unknown: 1') in text
    assert 'lesions per long-diameter bin: <10mm: 0, 10-30mm: 8' in text
    off = DeepLesionFROCMetric(
        interval_bins_mm=None, compute_ap50=False, save_files=False)
    off.process({}, _interval_samples([1.0, 5.0]))
    assert not [k for k in off.evaluate(2) if 'interval' in k]


def test_ap50_is_labelled_as_coco_iou():
    metric, res = run_metric(overlap='iobb', plus_one=True, iou_thr=0.3)
    report = metric.last_report
    assert 'COCO AP at IoU >= 0.5' in report['protocol']['ap50']
    text = format_table(report)
    assert f"AP50 (COCO, IoU >= 0.5): {res['deeplesion/ap50']:.4f}" in text
    assert "not the FROC's overlap rule" in text
    plain, plain_res = run_metric()
    assert "not the FROC's overlap rule" not in format_table(plain.last_report)
    # AP50 does not follow the FROC's overlap options
    assert res['deeplesion/ap50'] == pytest.approx(
        plain_res['deeplesion/ap50'])


def test_boxes_at_and_past_the_image_edge_are_lesions():
    # A lesion of the official test split whose box leaves the 512 x 512
    # image (003957_03_01_586.png, 1-based 489.818, 252.689, 513.681,
    # 284.578): clipped by the dataset to the edge, or left as it is (an
    # older dump), it is one lesion and the detection on it finds it.
    clipped = [488.818, 251.689, 511.0, 283.578]
    past = [488.818, 251.689, 512.681, 283.578]
    for box in (clipped, past):
        metric = DeepLesionFROCMetric(compute_ap50=False, save_files=False)
        metric.process({}, [
            dict(
                img_id='003957_03_01_586',
                img_path='586.png',
                slice_interval=1.0,
                spacing=[0.7, 0.7, 1.0],
                instances=[dict(_lesion(box, 2, 0, 30), ignore_flag=1)],
                pred_instances=dict(
                    bboxes=torch.tensor([clipped]), scores=torch.tensor([0.8
                                                                         ])))
        ])
        res = metric.evaluate(1)
        assert res['deeplesion/num_lesions'] == 1
        assert res['deeplesion/sens@0.5'] == pytest.approx(1.0)


def test_rescore_help_names_first_as_the_classic_rule(capsys):
    tool = load_tool('tools/analysis_tools/rescore_detections.py')
    with pytest.raises(SystemExit):
        tool.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert 'first (default) = the classic 3DCE code' in text
    assert 'last = numpy.interp' in text
    assert '--interval-bins' in text


class _Replay(torch.utils.data.Dataset):
    """The fake samples as a dataset (predictions already attached)."""

    def __init__(self):
        self.samples = fake_samples(as_dict=False)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        return dict(
            inputs=torch.zeros(1, 4, 4), data_samples=self.samples[idx])


class _EchoModel(torch.nn.Module):
    """Returns the data samples with their stored predictions."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def test_step(self, data):
        return data['data_samples']

    val_step = test_step


def test_runner_test_loop_writes_to_the_log_dir(tmp_path):
    from mmengine.runner import Runner

    runner = Runner(
        model=_EchoModel(),
        work_dir=str(tmp_path),
        test_dataloader=dict(
            dataset=_Replay(),
            batch_size=3,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        test_evaluator=dict(
            type='cspr_det.DeepLesionFROCMetric', compute_ap50=False),
        test_cfg=dict(type='TestLoop'),
        default_scope='mmdet')
    res = runner.test()
    # the drop walk of test_drop_protocol_hand_computed with the default rule
    # 'first': @0.5 -> 1/3, @1 (3rd FP's point) -> 1/3, @2, @4 clamped -> 1
    assert res['deeplesion/mean_sens'] == pytest.approx((2 / 3 + 2) / 4)
    assert osp.isfile(osp.join(runner.log_dir, 'froc.csv'))
    assert osp.isfile(osp.join(runner.log_dir, 'froc_curve.png'))
