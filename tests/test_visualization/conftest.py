"""Fixtures of the visualisation tests."""
import pytest
from mmengine.logging import MMLogger

from ct_fixtures import save_random_detector


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
