"""The synthetic DeepLesion 3D benchmark: sub-volumes written the NIH 2018
way (checked against the PNG slices) with a 3D box for every lesion drawn
in them."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import SimpleITK as sitk

from cspr_det.datasets.deeplesion3d_annotations import (load_3d_annotations,
                                                        parse_subvolume_name)
from cspr_det.datasets.deeplesion_csv import read_deeplesion_csv
from cspr_det.datasets.synthetic import make_synthetic_deeplesion
from cspr_det.datasets.synthetic.subvolumes import lesion_box_3d
from tool_loader import load_tool


@pytest.fixture(scope='module')
def synthetic_3d(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('syn3d'))
    summary = make_synthetic_deeplesion(
        root,
        num_patients=4,
        image_size=48,
        seed=5,
        studies_per_patient=(1, 1),
        keys_per_series=(2, 3),
        split_fractions=(0.0, 0.5, 0.5),
        min_lesion_px=4.0,
        subvolumes=True)
    return root, summary


def test_layout_and_counts(synthetic_3d):
    root, summary = synthetic_3d
    ann = load_3d_annotations(
        osp.join(root, 'deeplesion3d', 'annotations.pkl'))
    js = load_3d_annotations(
        osp.join(root, 'deeplesion3d', 'annotations.json'))
    assert sorted(ann) == ['test', 'val']
    for split, subs in ann.items():
        assert summary['subvolumes'][split]['subvolumes'] == len(subs) > 0
        assert summary['subvolumes'][split]['boxes'] == \
            sum(len(b) for b in subs.values())
        assert all(np.array_equal(js[split][n], b) for n, b in subs.items())
    files = sorted(os.listdir(osp.join(root, 'deeplesion3d', 'subvolumes')))
    assert files == sorted(n + '.nii.gz' for s in ann.values() for n in s)


def test_nih_2018_geometry(synthetic_3d):
    """Voxel axes (image row, image column, slice in PNG order), the NIH
    affine [[0, -sy, 0], [-sx, 0, 0], [0, 0, -sz]] (RAS) = LPS direction
    columns (0, 1, 0), (1, 0, 0), (0, 0, -1); int16 HU = PNG - 32768."""
    root, _ = synthetic_3d
    rows, _ = read_deeplesion_csv(osp.join(root, 'DL_info.csv'))
    spacing = {r['series']: r['spacing'] for r in rows}
    sub_dir = osp.join(root, 'deeplesion3d', 'subvolumes')
    for fname in sorted(os.listdir(sub_dir))[:3]:
        series, first, last = parse_subvolume_name(fname)
        img = sitk.ReadImage(osp.join(sub_dir, fname))
        assert img.GetPixelID() == sitk.sitkInt16
        assert np.allclose(img.GetDirection(), (0, 1, 0, 1, 0, 0, 0, 0, -1))
        assert np.allclose(img.GetSpacing(), spacing[series], atol=1e-4)
        assert img.GetSize()[2] == last - first + 1
        arr = sitk.GetArrayFromImage(img)  # (slice, column, row)
        for k in (first, last):
            png = cv2.imread(
                osp.join(root, 'Images_png', series, f'{k:03d}.png'),
                cv2.IMREAD_UNCHANGED)
            assert np.array_equal(arr[k - first].T,
                                  png.astype(np.int32) - 32768)
        # world z falls toward the feet as the slice number grows
        z0 = img.TransformIndexToPhysicalPoint((0, 0, 0))[2]
        z1 = img.TransformIndexToPhysicalPoint((0, 0, 1))[2]
        assert z1 < z0


def test_every_marked_lesion_has_a_3d_box(synthetic_3d):
    root, _ = synthetic_3d
    ann = load_3d_annotations(
        osp.join(root, 'deeplesion3d', 'annotations.pkl'))
    rows, _ = read_deeplesion_csv(osp.join(root, 'DL_info.csv'))
    subs = {n: b for s in ann.values() for n, b in s.items()}
    for r in rows:
        name = next(
            n for n in subs if parse_subvolume_name(n)[0] == r['series']
            and parse_subvolume_name(
                n)[1] <= r['key_slice'] <= parse_subvolume_name(n)[2])
        b = subs[name]
        # the middle of the RECIST long axis is the lesion's centre
        cx = (r['recist'][0] + r['recist'][2]) / 2
        cy = (r['recist'][1] + r['recist'][3]) / 2
        inside = (b[:, 0] <= cx) & (cx <= b[:, 3]) & (b[:, 1] <= cy) & \
            (cy <= b[:, 4]) & (b[:, 2] <= r['key_slice']) & \
            (r['key_slice'] <= b[:, 5])
        assert inside.any(), (name, r['key_slice'])


def test_box_of_a_lesion():
    les = dict(cx=0.0, cy=0.0, a=10.0, b=5.0, c=6.0, theta=0.0)
    # 2 mm slices: |k - key| * 2 < 6 -> key - 2 .. key + 2
    box = lesion_box_3d(les, 20, 2.0, 65, 1.0, 1, 40)
    assert box.tolist() == [22.0, 27.0, 18, 42.0, 37.0, 22]
    # clipped to the sub-volume, the cross-section shrinks with distance
    part = lesion_box_3d(les, 20, 2.0, 65, 1.0, 22, 40)
    shrink = np.sqrt(1 - (4 / 6)**2)
    assert part[2] == 22 and part[5] == 22
    assert part[3] - part[0] == pytest.approx(20 * shrink, abs=0.01)
    assert lesion_box_3d(les, 20, 2.0, 65, 1.0, 23, 40) is None


def test_default_writes_no_subvolumes(tmp_path):
    summary = make_synthetic_deeplesion(
        str(tmp_path),
        num_patients=1,
        image_size=32,
        seed=1,
        studies_per_patient=(1, 1),
        keys_per_series=(1, 1),
        min_lesion_px=3.0)
    assert 'subvolumes' not in summary
    assert not osp.exists(tmp_path / 'deeplesion3d')


def test_generator_tool_flag(tmp_path, capsys):
    tool = load_tool('tools/misc/make_synthetic_deeplesion.py')
    out = str(tmp_path / 'syn')
    assert tool.main([
        '--out-dir', out, '--num-patients', '3', '--image-size', '32',
        '--subvolumes'
    ]) == 0
    text = capsys.readouterr().out
    ann = load_3d_annotations(
        osp.join(out, 'deeplesion3d', 'annotations.json'))
    n = len(ann['test'])
    assert n > 0 and f'3D test: {n} sub-volumes' in text
