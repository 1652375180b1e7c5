"""inference_nodule: a stored synthetic LIDC crop placed in a CT volume and
scored at its world centre gives the crop and the probability of the
dataset path (LIDCNoduleDataset + test pipeline + test_step)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from cspr_det.apis import inference_nodule, init_model, read_ct_volume
from cspr_det.apis.nodule_inference import NODULE_HU_WINDOW
from cspr_det.apis.slice_inference import config_test_pipeline
from cspr_det.datasets import LIDCNoduleDataset
from cspr_det.datasets.lidc_npz import load_nodule_npz
from cspr_det.datasets.synthetic.make_synthetic_lidc import make_synthetic_lidc
from infer_fixtures import VOXEL_WINDOW, embed_crop, tiny_cls_config


@pytest.fixture(scope='module')
def lidc_setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('lidc_infer'))
    make_synthetic_lidc(root, preset='tiny', num_patients=6, seed=0)
    torch.manual_seed(0)
    model = init_model(tiny_cls_config())
    ds = LIDCNoduleDataset(
        data_root=root,
        task='classification',
        subset=('train', 'val', 'test'),
        test_mode=True,
        pipeline=config_test_pipeline(model.cfg))
    return dict(root=root, model=model, ds=ds)


def _dataset_scores(model, sample):
    with torch.no_grad():
        out = model.test_step(pseudo_collate([sample]))
    return out[0].pred_score.numpy()


def test_same_crop_and_probability_as_the_dataset(lidc_setup, tmp_path):
    model, ds = lidc_setup['model'], lidc_setup['ds']
    assert model.task == 'classification'
    assert model.dataset_meta['classes'] == ('benign', 'malignant')
    assert tuple(NODULE_HU_WINDOW) == VOXEL_WINDOW
    centres, expected, crops, ids = [], [], [], []
    for idx in range(2):
        info = ds.get_data_info(idx)
        voxel, _ = load_nodule_npz(info['img_path'], None)
        sample = ds[idx]
        # the dataset's centre crop starts at (n - 48) // 2 of the stored
        # crop, the nodule centre at the middle of the 48^3 window
        start = np.asarray(sample['data_samples'].crop_offset_3d)
        path, offset = embed_crop(voxel, str(tmp_path / f'scan{idx}.nii.gz'))
        volume = read_ct_volume(path)
        centre_zyx = offset + start + 23.5
        centres.append(volume.index_to_world(centre_zyx[::-1][None])[0])
        expected.append(_dataset_scores(model, sample))
        crops.append(sample['inputs'][0].numpy())
        ids.append(info['nodule_id'])
        result = inference_nodule(
            model, volume, centres[-1][None], ids=[ids[-1]], keep_crops=True)
        np.testing.assert_array_equal(result.crops[0], crops[-1])
        np.testing.assert_allclose(
            result.scores[0], expected[-1], rtol=1e-5, atol=1e-6)
        assert result.probabilities[0] == pytest.approx(
            float(expected[-1][1]), abs=1e-6)
        rec = result.records()[0]
        assert rec['id'] == ids[-1]
        assert rec['score_malignant'] == pytest.approx(rec['probability'])
        assert [rec['x'], rec['y'],
                rec['z']] == pytest.approx(list(centres[-1]))
    # the two crops differ, and so do their scores
    assert not np.array_equal(crops[0], crops[1])


def test_batches_and_a_path(lidc_setup, tmp_path):
    model, ds = lidc_setup['model'], lidc_setup['ds']
    info = ds.get_data_info(0)
    voxel, _ = load_nodule_npz(info['img_path'], None)
    path, offset = embed_crop(voxel, str(tmp_path / 'scan.nii.gz'))
    volume = read_ct_volume(path)
    idx = np.array([[offset[2] + 25.5, offset[1] + 25.5, offset[0] + 25.5],
                    [20.0, 20.0, 20.0], [30.0, 25.0, 28.0]])
    pts = volume.index_to_world(idx)
    one = inference_nodule(model, path, pts, batch_size=1)
    two = inference_nodule(model, volume, pts, batch_size=2)
    assert one.ids == ['0', '1', '2']
    np.testing.assert_allclose(one.scores, two.scores, atol=1e-6)
    np.testing.assert_allclose(one.scores.sum(1), 1.0, atol=1e-5)
    # another storage window gives other crops
    other = inference_nodule(
        model, volume, pts[:1], hu_window=(-1000, 200), keep_crops=True)
    same = inference_nodule(model, volume, pts[:1], keep_crops=True)
    assert not np.array_equal(other.crops, same.crops)


def test_bad_centres(lidc_setup, tmp_path):
    model, ds = lidc_setup['model'], lidc_setup['ds']
    voxel, _ = load_nodule_npz(ds.get_data_info(0)['img_path'], None)
    path, _ = embed_crop(voxel, str(tmp_path / 'scan.nii.gz'))
    volume = read_ct_volume(path)
    inside = volume.index_to_world(np.array([[30.0, 30.0, 30.0]]))
    with pytest.raises(ValueError, match='outside the scan'):
        inference_nodule(model, volume, inside + [[0, 0, 500.0]])
    with pytest.raises(ValueError, match='no nodule centre'):
        inference_nodule(model, volume, np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        inference_nodule(model, volume, [[1.0, 2.0]])
    with pytest.raises(ValueError, match='ids'):
        inference_nodule(model, volume, inside, ids=['a', 'b'])
    assert osp.isfile(path)
