"""3D crop augmentation of the nodule crops: exact voxel permutations,
centre crop with shifts, loading, seeding."""
import copy

import numpy as np
import pytest
from mmengine.dataset import Compose

from cspr_det.datasets.transforms import (CentreCrop3D, LoadLIDCNodule,
                                          PackVolumeClsInputs,
                                          Random90Rotation3D, RandomFlip3D)
from cspr_det.datasets.transforms.random_90_rotation_3d import (apply_rotation,
                                                                cube_rotations)


def _index_volume(n=4):
    return np.arange(n**3, dtype=np.int64).reshape(n, n, n)


def _linear_map(rotation, n=4):
    """The integer matrix M and offset with rotated[p] = vol[M p + b]."""
    vol = _index_volume(n)
    out = apply_rotation(vol, rotation)
    coords = np.stack(np.unravel_index(out.reshape(-1), vol.shape), 1)
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing='ij'),
                    -1).reshape(-1, 3)
    # solve coords = grid @ M.T + b exactly from the corners
    b = coords[0]
    m = np.stack([
        coords[np.ravel_multi_index(e, vol.shape)] - b
        for e in np.eye(3, dtype=int) * 1
    ], 1)
    np.testing.assert_array_equal(grid @ m.T + b, coords)
    return m


def test_24_distinct_proper_rotations_each_a_voxel_permutation():
    rots = cube_rotations()
    assert len(rots) == 24
    vol = _index_volume()
    outs = [apply_rotation(vol, r) for r in rots]
    for out in outs:  # every voxel exactly once
        np.testing.assert_array_equal(
            np.sort(out.reshape(-1)), vol.reshape(-1))
    assert len({o.tobytes() for o in outs}) == 24
    np.testing.assert_array_equal(outs[0], vol)  # identity first
    for r in rots:
        m = _linear_map(r)
        # a signed permutation matrix with determinant +1: a rotation
        assert sorted(np.abs(m).sum(0).tolist()) == [1, 1, 1]
        assert round(np.linalg.det(m)) == 1


def test_rotation_moves_image_and_mask_alike_and_leaves_self():
    t = Random90Rotation3D(prob=1.0)
    before = copy.deepcopy(t.__dict__)
    vol = _index_volume(6).astype(np.float32)
    seen = set()
    np.random.seed(0)
    for _ in range(60):
        res = t(dict(img=vol.copy(), gt_seg=vol.astype(np.int64)))
        np.testing.assert_array_equal(res['img'], res['gt_seg'])
        np.testing.assert_array_equal(
            res['img'], apply_rotation(vol, t.ROTATIONS[res['rot90_3d']]))
        seen.add(res['rot90_3d'])
    assert len(seen) > 15
    assert t.__dict__ == before
    res = Random90Rotation3D(prob=0.0)(dict(img=vol.copy()))
    assert res['rot90_3d'] == 0
    np.testing.assert_array_equal(res['img'], vol)


def test_flips_on_all_axes_are_exact_permutations():
    vol = _index_volume(5)
    t = RandomFlip3D(prob=1.0, axes=('z', 'y', 'x'))
    res = t(dict(img=vol.copy(), gt_seg=vol.copy()))
    np.testing.assert_array_equal(res['img'], vol[::-1, ::-1, ::-1])
    np.testing.assert_array_equal(res['gt_seg'], res['img'])
    np.random.seed(1)
    for _ in range(10):
        res = RandomFlip3D(
            prob=0.5, axes=('z', 'y', 'x'))(
                dict(img=vol.copy()))
        idx = tuple(
            slice(None, None, -1) if a in res['flip_3d'] else slice(None)
            for a in 'zyx')
        np.testing.assert_array_equal(res['img'], vol[idx])


def test_centre_crop_and_shift_bounds():
    vol = _index_volume(10)
    res = CentreCrop3D(size=4)(dict(img=vol.copy(), gt_seg=vol.copy()))
    np.testing.assert_array_equal(res['img'], vol[3:7, 3:7, 3:7])
    np.testing.assert_array_equal(res['gt_seg'], res['img'])
    assert res['crop_offset_3d'] == (3, 3, 3)
    np.random.seed(0)
    starts = set()
    for _ in range(200):
        res = CentreCrop3D(size=4, max_shift=2)(dict(img=vol.copy()))
        starts.update(res['crop_offset_3d'])
        z, y, x = res['crop_offset_3d']
        np.testing.assert_array_equal(res['img'], vol[z:z + 4, y:y + 4,
                                                      x:x + 4])
    assert starts == {1, 2, 3, 4, 5}  # centre 3 +- 2
    # shifts that would leave the volume are limited to its edge
    res = CentreCrop3D(size=9, max_shift=5)(dict(img=vol.copy()))
    assert all(0 <= s <= 1 for s in res['crop_offset_3d'])
    with pytest.raises(ValueError, match='nodule lidc7_1 is smaller'):
        CentreCrop3D(size=48)(dict(img=vol, nodule_id='lidc7_1'))
    with pytest.raises(ValueError, match='size'):
        CentreCrop3D(size=(48, 48))


def _pipeline():
    return Compose([
        dict(type='cspr_det.LoadLIDCNodule', with_seg=True),
        dict(type='cspr_det.CentreCrop3D', size=48, max_shift=5),
        dict(type='cspr_det.Random90Rotation3D'),
        dict(type='cspr_det.RandomFlip3D', prob=0.5, axes=('z', 'y', 'x')),
        dict(
            type='cspr_det.PackVolumeSegInputs',
            meta_keys=('crop_offset_3d', 'rot90_3d', 'flip_3d'))
    ])


def test_load_and_same_seed_same_sample(tiny_lidc):
    import glob
    path = sorted(glob.glob(f'{tiny_lidc}/nodule/*.npz'))[0]
    info = dict(img_path=path, nodule_id='n', seg_label='answer1')
    raw = np.load(path)
    res = LoadLIDCNodule(with_seg=True)(dict(info))
    np.testing.assert_array_equal(res['img'], raw['voxel'].astype(np.float32))
    np.testing.assert_array_equal(res['gt_seg'], raw['answer1'])
    outs = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        outs.append(_pipeline()(dict(info)))
    a, b, c = outs
    assert a['inputs'].shape == (1, 48, 48, 48)
    assert np.array_equal(a['inputs'].numpy(), b['inputs'].numpy())
    assert np.array_equal(a['data_samples'].gt_seg.numpy(),
                          b['data_samples'].gt_seg.numpy())
    assert not np.array_equal(a['inputs'].numpy(), c['inputs'].numpy())
    # rotation and flips permute voxels: the mask covers the same values
    z, y, x = a['data_samples'].metainfo['crop_offset_3d']
    crop = res['img'][z:z + 48, y:y + 48, x:x + 48]
    mask = res['gt_seg'][z:z + 48, y:y + 48, x:x + 48] == 1
    got = a['inputs'][0].numpy()[a['data_samples'].gt_seg.numpy() == 1]
    assert mask.sum() > 0
    np.testing.assert_array_equal(np.sort(got), np.sort(crop[mask]))
    np.testing.assert_array_equal(
        np.sort(a['inputs'].numpy().ravel()), np.sort(crop.ravel()))


def test_loader_errors_name_the_nodule(tmp_path):
    with pytest.raises(ValueError, match='LIDC nodule lidc3_2: '):
        LoadLIDCNodule()(
            dict(img_path=str(tmp_path / 'x.npz'), nodule_id='lidc3_2'))
    path = str(tmp_path / 'm.npz')
    np.savez(
        path,
        voxel=np.zeros((4, 4, 4), np.uint8),
        answer1=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match='lidc3_3: .*answer1'):
        LoadLIDCNodule(with_seg=True)(
            dict(img_path=path, nodule_id='lidc3_3', seg_label='answer1'))


def test_pack_cls_inputs():
    res = PackVolumeClsInputs()(
        dict(
            img=np.ones((4, 5, 6), np.float32),
            gt_label=1,
            nodule_id='n1',
            subset='val'))
    assert res['inputs'].shape == (1, 4, 5, 6)
    assert res['data_samples'].gt_label.tolist() == [1]
    assert res['data_samples'].metainfo['nodule_id'] == 'n1'
    assert res['data_samples'].metainfo['subset'] == 'val'
