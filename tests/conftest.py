"""Shared pytest set-up: every test runs with cspr_det imported (registries,
checkpoint loader) and on CPU; ``tiny_deeplesion`` is a session-wide tiny
synthetic DeepLesion."""
import os
import os.path as osp

os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import pytest  # noqa: E402

import cspr_det  # noqa: E402,F401
from cspr_det.datasets.deeplesion_coco import \
    convert_deeplesion_csv  # noqa: E402
from cspr_det.datasets.synthetic import make_synthetic_deeplesion  # noqa: E402


@pytest.fixture(scope='session')
def tiny_deeplesion(tmp_path_factory):
    """A tiny synthetic DeepLesion (64 px slices) converted to COCO JSON under
    ``<root>/annotations``, with images in every split."""
    root = str(tmp_path_factory.mktemp('tiny_deeplesion'))
    make_synthetic_deeplesion(
        root,
        num_patients=6,
        image_size=64,
        seed=3,
        studies_per_patient=(1, 1),
        keys_per_series=(1, 2),
        split_fractions=(0.5, 0.17, 0.33),
        min_lesion_px=4.0)
    summary = convert_deeplesion_csv(
        osp.join(root, 'DL_info.csv'), osp.join(root, 'annotations'))
    assert all(s['images'] > 0 for s in summary['splits'].values()), summary
    return root


@pytest.fixture(autouse=True)
def _drop_logger_handlers_on_closed_streams():
    """An mmengine logger created under ``capsys`` keeps a StreamHandler on
    that test's capture stream, closed once the test ends; a later test that
    logs through the same (current) logger would get 'Logging error'
    tracebacks on its stderr. After every test, drop such handlers."""
    yield
    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            if getattr(getattr(handler, 'stream', None), 'closed', False):
                logger.removeHandler(handler)
