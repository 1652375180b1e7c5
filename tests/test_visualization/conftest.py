"""Fixtures of the visualisation tests."""
import os.path as osp
import sys

import pytest
from mmengine.logging import MMLogger

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'test_apis'))

from ct_fixtures import save_random_detector  # noqa: E402


@pytest.fixture(scope='session')
def vis_detector(tmp_path_factory):
    """A randomly initialised demo detector checkpoint."""
    return save_random_detector(
        str(tmp_path_factory.mktemp('vis_ckpt') / 'random_demo.pth'))


@pytest.fixture(scope='session', autouse=True)
def session_logger():
    """mmengine's current logger, created outside any ``capsys`` capture:
    a logger first created inside one keeps writing to its closed stream
    in later tests ("--- Logging error ---")."""
    return MMLogger.get_current_instance()
