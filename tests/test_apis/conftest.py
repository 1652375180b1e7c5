"""Fixtures of the whole-CT inference tests."""
import pytest
from mmengine.logging import MMLogger

from ct_fixtures import save_random_detector


@pytest.fixture(scope='session')
def random_detector(tmp_path_factory):
    """A randomly initialised demo detector checkpoint (see
    ``ct_fixtures.save_random_detector``)."""
    return save_random_detector(
        str(tmp_path_factory.mktemp('ckpt') / 'random_demo.pth'))


@pytest.fixture(scope='session', autouse=True)
def session_logger():
    """mmengine's current logger, created outside any ``capsys`` capture:
    a logger first created inside one keeps writing to its closed stream
    in later tests ("--- Logging error ---")."""
    return MMLogger.get_current_instance()
