import pytest
import torch

from cspr_det.structures import VolumeSegDataSample


def test_fields_and_metainfo_survive_to_and_clone():
    sample = VolumeSegDataSample(
        metainfo=dict(
            case_id='volume-3',
            spacing=(1.0, 0.7, 0.7),
            img_shape=(4, 6, 8),
            ori_shape=(4, 6, 8)))
    sample.gt_seg = torch.ones(4, 6, 8, dtype=torch.long)
    sample.seg_logits = torch.zeros(3, 4, 6, 8)
    sample.pred_seg = torch.zeros(4, 6, 8, dtype=torch.long)
    moved = sample.to('cpu')
    assert sorted(moved.keys()) == ['gt_seg', 'pred_seg', 'seg_logits']
    assert moved.case_id == 'volume-3'
    assert moved.spacing == (1.0, 0.7, 0.7)
    assert torch.equal(moved.gt_seg, sample.gt_seg)
    assert moved.seg_logits.shape == (3, 4, 6, 8)


@pytest.mark.parametrize('name,shape', [('gt_seg', (4, 6)),
                                        ('pred_seg', (1, 4, 6, 8)),
                                        ('seg_logits', (4, 6, 8))])
def test_wrong_rank_is_rejected_and_not_registered(name, shape):
    sample = VolumeSegDataSample()
    with pytest.raises(ValueError, match=name):
        setattr(sample, name, torch.zeros(shape))
    assert name not in sample.keys()
    # A rejected field does not break copies of the sample.
    assert sample.to('cpu').keys() == []


def test_non_tensor_is_rejected():
    sample = VolumeSegDataSample()
    with pytest.raises(TypeError, match='gt_seg must be a torch.Tensor'):
        sample.gt_seg = [[[0]]]
