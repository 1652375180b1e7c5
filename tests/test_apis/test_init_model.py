"""init_model: every task family from its config, strict checkpoint loading,
class names from the checkpoint or the config's dataset; init_detector is
the same function."""
import pytest
import torch

from cspr_det.apis import init_detector, init_model, model_task
from cspr_det.models.utils import CheckpointMismatchError
from ct_fixtures import DEMO, FAST_OPTIONS
from infer_fixtures import tiny_cls_config, tiny_seg_config


def test_every_family():
    det = init_model(DEMO, cfg_options=FAST_OPTIONS)
    assert det.task == model_task(det) == 'detection'
    assert det.dataset_meta['classes'] == ('lesion', )
    assert not det.training and det.cfg.model.type.endswith('FasterRCNN')
    alias = init_detector(DEMO, cfg_options=FAST_OPTIONS)
    assert type(alias) is type(det) and alias.task == 'detection'

    seg = init_model(tiny_seg_config('no/data/needed'))
    assert seg.task == 'segmentation'
    assert seg.dataset_meta['classes'] == ('background', 'liver')
    # the config's dataset decides the names (built without its data)
    seg3 = init_model(
        tiny_seg_config('no/data/needed'),
        cfg_options={
            'test_dataloader.dataset.task': 'liver_tumour',
            'model.decode_head.num_classes': 3
        })
    assert seg3.dataset_meta['classes'] == ('background', 'liver', 'tumour')

    cls = init_model(tiny_cls_config())
    assert cls.task == 'classification'
    assert cls.dataset_meta['classes'] == ('benign', 'malignant')

    with pytest.raises(ValueError, match='neither a detector'):
        model_task(torch.nn.Linear(2, 2))


def test_strict_loading_and_meta(tmp_path):
    cfg = tiny_cls_config()
    torch.manual_seed(1)
    model = init_model(cfg)
    state = model.state_dict()
    good = str(tmp_path / 'good.pth')
    torch.save(
        dict(
            state_dict=state,
            meta=dict(dataset_meta=dict(classes=('low', 'high')))), good)
    loaded = init_model(cfg, good)
    assert loaded.dataset_meta['classes'] == ('low', 'high')
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key

    bad_state = dict(state)
    key = [
        k for k in state
        if k.endswith('fc.weight') or k.endswith('head.fc.weight')
    ]
    key = key[0] if key else [k for k in state if k.endswith('weight')][-1]
    bad_state[key] = torch.zeros(5, 3)
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=bad_state), bad)
    with pytest.raises(CheckpointMismatchError, match='does not match'):
        init_model(cfg, bad)
    partial = init_model(cfg, bad, strict=False)
    other = [k for k in state if k != key][0]
    assert torch.equal(partial.state_dict()[other], state[other])

    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        init_model(cfg, str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='config file not found'):
        init_model(str(tmp_path / 'missing.py'))
