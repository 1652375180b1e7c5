"""Sliding-window inference against a brute-force full-volume reference
(and MONAI when installed)."""
import pytest
import torch

from cspr_det.models.utils.sliding_window import (gaussian_weights,
                                                  sliding_window_inference,
                                                  window_starts)


def _predictor():
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(2, 3, 3, padding=1)

    def predict(x):
        # depends on the window's content as a whole (its mean), so
        # averaging different windows matters
        return conv(x) + x.mean(dim=(1, 2, 3, 4)).view(-1, 1, 1, 1, 1)

    return predict


def _brute_force(x, predict, window, stride, weighting):
    """Every window, weighted, summed into a full volume and divided by a
    full weight volume (float64)."""
    size = x.shape[2:]
    window = [min(w, s) for w, s in zip(window, size)]
    if weighting == 'gaussian':
        g = gaussian_weights(window)
    else:
        g = [torch.ones(w, dtype=torch.float64) for w in window]
    imp = g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]
    out = torch.zeros((x.size(0), 3) + tuple(size), dtype=torch.float64)
    wsum = torch.zeros(size, dtype=torch.float64)
    wd, wh, ww = window
    for z in window_starts(size[0], wd, stride[0]):
        for y in window_starts(size[1], wh, stride[1]):
            for v in window_starts(size[2], ww, stride[2]):
                sl = (slice(z, z + wd), slice(y, y + wh), slice(v, v + ww))
                out[(Ellipsis, ) +
                    sl] += predict(x[(Ellipsis, ) + sl]).double() * imp
                wsum[sl] += imp
    assert wsum.min() > 0
    return out / wsum


def test_window_starts_are_clamped_and_cover():
    assert window_starts(100, 32, 12) == [0, 12, 24, 36, 48, 60, 68]
    assert window_starts(32, 32, 12) == [0]
    assert window_starts(300, 256, 128) == [0, 44]
    for size, w, s in [(17, 5, 3), (40, 16, 16), (9, 9, 1)]:
        st = window_starts(size, w, s)
        covered = set()
        for a in st:
            covered.update(range(a, a + w))
        assert covered == set(range(size)) and st[-1] == size - w


@pytest.mark.parametrize('weighting', ['uniform', 'gaussian'])
@pytest.mark.parametrize('batch', [1, 4, 7])
def test_equals_brute_force_reference(weighting, batch):
    torch.manual_seed(1)
    x = torch.randn(2, 2, 13, 19, 17)
    predict = _predictor()
    window, stride = (6, 8, 10), (4, 5, 3)
    with torch.no_grad():
        ref = _brute_force(x, predict, window, stride, weighting)
        out = sliding_window_inference(
            x,
            predict,
            window,
            stride,
            sw_batch_size=batch,
            weighting=weighting)
        labels = sliding_window_inference(
            x,
            predict,
            window,
            stride,
            sw_batch_size=batch,
            weighting=weighting,
            output='labels')
    assert out.shape == (2, 3, 13, 19, 17) and out.dtype == torch.float32
    assert (out.double() - ref).abs().max() < 1e-5
    # the bounded-memory label path is exactly the arg-max of the logits
    assert labels.dtype == torch.uint8
    assert torch.equal(labels.long(), out.argmax(1))


def test_window_larger_than_volume_is_one_whole_pass():
    torch.manual_seed(2)
    x = torch.randn(1, 2, 5, 7, 6)
    predict = _predictor()
    with torch.no_grad():
        out = sliding_window_inference(x, predict, (32, 64, 64), (12, 32, 32))
        assert torch.allclose(out, predict(x), atol=1e-6)


def test_labels_path_holds_only_a_slab(monkeypatch):
    # With labels output the accumulator is (C, w_d + batch z-span, H, W),
    # not the whole depth.
    shapes = []
    real_zeros = torch.zeros

    def spy(*args, **kwargs):
        t = real_zeros(*args, **kwargs)
        shapes.append(tuple(t.shape))
        return t

    x = torch.randn(1, 2, 40, 8, 8)
    predict = _predictor()
    monkeypatch.setattr(torch, 'zeros', spy)
    with torch.no_grad():
        labels = sliding_window_inference(
            x, predict, (8, 8, 8), (4, 8, 8), sw_batch_size=2, output='labels')
    monkeypatch.undo()
    with torch.no_grad():
        logits = sliding_window_inference(x, predict, (8, 8, 8), (4, 8, 8))
    assert torch.equal(labels.long(), logits.argmax(1))
    accumulators = [s for s in shapes if len(s) == 4]
    assert accumulators == [(3, 12, 8, 8)]


def test_accumulation_device_and_errors():
    x = torch.randn(1, 2, 8, 8, 8)
    predict = _predictor()
    with torch.no_grad():
        out = sliding_window_inference(
            x,
            predict, (4, 4, 4), (2, 2, 2),
            accum_device='cpu',
            accum_dtype=torch.float64)
    assert out.device.type == 'cpu' and out.dtype == torch.float64
    with pytest.raises(ValueError, match='exceeds the window'):
        sliding_window_inference(x, predict, (4, 4, 4), (5, 2, 2))
    with pytest.raises(ValueError, match='weighting must be one of'):
        sliding_window_inference(
            x, predict, (4, 4, 4), (2, 2, 2), weighting='cosine')
    with pytest.raises(ValueError, match=r'inputs must be \(N, C, D, H, W\)'):
        sliding_window_inference(x[0], predict, (4, 4, 4), (2, 2, 2))
    with pytest.raises(ValueError, match='predictor returned'):
        sliding_window_inference(x, lambda t: t[:, :, :2], (4, 4, 4),
                                 (2, 2, 2))


def test_equals_monai_constant_mode():
    inferers = pytest.importorskip('monai.inferers')
    torch.manual_seed(3)
    x = torch.randn(1, 2, 20, 24, 22)
    predict = _predictor()
    window, stride = (8, 12, 10), (3, 6, 4)
    overlap = [1 - s / w for s, w in zip(stride, window)]
    with torch.no_grad():
        ref = inferers.sliding_window_inference(
            x, window, 5, predict, overlap=overlap, mode='constant')
        out = sliding_window_inference(
            x, predict, window, stride, sw_batch_size=5)
    assert (out - ref).abs().max() < 1e-5
