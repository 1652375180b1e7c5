import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from cspr_det.registry import MODELS


def tiny_classifier(num_classes=4):
    return MODELS.build(
        dict(
            type='cspr_det.VolumeClassifier',
            backbone=dict(
                type='cspr_det.ResNet3D',
                depth=18,
                base_channels=4,
                out_indices=(3, )),
            head=dict(
                type='cspr_det.LinearClsHead3D',
                num_classes=num_classes,
                in_channels=32,
                label_smoothing=0.1)))


def _samples(labels):
    out = []
    for label in labels:
        d = BaseDataElement()
        d.gt_label = torch.tensor([label])
        out.append(d)
    return out


def test_modes_and_shapes():
    torch.manual_seed(0)
    model = tiny_classifier()
    model.init_weights()
    data = dict(
        inputs=[
            torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8)
            for _ in range(2)
        ],
        data_samples=_samples([1, 3]))
    batch = model.data_preprocessor(data, training=True)
    x = batch['inputs']
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
    # one mean/std for all slices
    raw = torch.stack(data['inputs']).float()
    torch.testing.assert_close(x, (raw - 114.495) / 57.63)

    feats = model.extract_feat(x)
    assert feats[-1].shape == (2, 32, 3, 1, 1)  # depth 3 kept
    logits = model(x, mode='tensor')
    assert logits.shape == (2, 4)

    losses = model(x, batch['data_samples'], mode='loss')
    ref = F.cross_entropy(logits, torch.tensor([1, 3]), label_smoothing=0.1)
    torch.testing.assert_close(losses['loss_cls'], ref)
    # logged batch accuracy: the arg-max of these logits against the labels
    expected_acc = 100.0 * float(
        (logits.argmax(dim=1) == torch.tensor([1, 3])).float().mean())
    assert float(losses['acc_top1']) == pytest.approx(expected_acc)
    assert not losses['acc_top1'].requires_grad
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad is not None

    preds = model(x, batch['data_samples'], mode='predict')
    assert len(preds) == 2
    assert preds[0].pred_score.shape == (4, )
    torch.testing.assert_close(preds[0].pred_score.sum(), torch.tensor(1.))
    assert preds[1].pred_label.item() == int(logits[1].argmax())
    assert preds[1].gt_label.item() == 3
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(x, mode='bad')

    # constructed case: constant logits favouring class 3 -> one of the two
    # labels (1, 3) is right, acc_top1 = 50 exactly; favouring class 1 with
    # labels (1, 1) -> 100; favouring class 0 -> 0
    with torch.no_grad():
        model.head.fc.weight.zero_()
        for favoured, labels, acc in ((3, [1, 3], 50.0), (1, [1, 1], 100.0),
                                      (0, [1, 3], 0.0)):
            model.head.fc.bias.zero_()
            model.head.fc.bias[favoured] = 1.0
            out = model(x, _samples(labels), mode='loss')
            assert float(out['acc_top1']) == acc


def test_head_batch_accuracy_on_known_features():
    # pooled features chosen so that the arg-max of W f is known:
    # f=(1,0)->class 0, (0,1)->1, (-1,-1)->2, (0,2)->1
    head = MODELS.build(
        dict(
            type='cspr_det.LinearClsHead3D',
            num_classes=3,
            in_channels=2,
            label_smoothing=0.0))
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[1., 0.], [0., 1.], [-1., -1.]]))
        head.fc.bias.zero_()
    feats = torch.tensor([[1., 0.], [0., 1.], [-1., -1.], [0., 2.]])
    maps = feats[:, :, None, None, None].expand(4, 2, 2, 3, 3)  # 5D maps
    out = head.loss(maps, _samples([0, 1, 2, 0]))  # last one is wrong
    assert float(out['acc_top1']) == 75.0
    logits = feats @ head.fc.weight.T
    torch.testing.assert_close(
        out['loss_cls'], F.cross_entropy(logits, torch.tensor([0, 1, 2, 0])))


def test_head_accepts_2d_and_5d_maps():
    head = MODELS.build(
        dict(type='cspr_det.LinearClsHead3D', num_classes=3, in_channels=8))
    assert head(torch.rand(2, 8, 3, 4, 4)).shape == (2, 3)
    assert head((torch.rand(2, 4, 5, 5), torch.rand(2, 8, 4,
                                                    4))).shape == (2, 3)
    pooled = head.pool(torch.arange(16.).reshape(1, 8, 2, 1, 1))
    torch.testing.assert_close(pooled[0, 0], torch.tensor(0.5))
    with pytest.raises(ValueError, match='channels'):
        head(torch.rand(2, 5, 4, 4))
    with pytest.raises(ValueError, match='gt_label'):
        head.loss(torch.rand(2, 8, 4, 4), [BaseDataElement()] * 2)
