"""The interface of a CT reader (:class:`BaseCTReader`)."""
from abc import ABCMeta, abstractmethod
from typing import Optional, Tuple

import SimpleITK as sitk

from .ct_volume import CTVolume
from .volume_error import VolumeError


class BaseCTReader(metaclass=ABCMeta):
    """One input format: says whether it reads a path, and reads it.

    Subclasses are registered in :data:`cspr_det.registry.CT_READERS`;
    :func:`~cspr_det.fileio.read_ct_volume` asks every registered reader, in
    increasing :attr:`priority`, whether it reads the path and uses the
    first that does.

    Attributes:
        priority: Order in which the dispatcher asks the readers (lower
            first; a reader with a cheap, specific test goes first).
        options: Keyword options :meth:`read` accepts (the dispatcher
            passes only these and warns about others that are set).
    """
    priority: int = 50
    options: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The registered name (the class name)."""
        return type(self).__name__

    @abstractmethod
    def can_read(self, path: str) -> bool:
        """Whether ``path`` (an existing absolute file or folder) is in this
        reader's format. Must be cheap (names, headers) and never raise."""

    @abstractmethod
    def read(self, path: str, **options) -> CTVolume:
        """Read ``path`` into a :class:`CTVolume` (HU, canonical grid).

        Raises:
            VolumeError: One line naming the file and what is wrong.
        """

    def read_image(self,
                   path: str,
                   case_id: Optional[str] = None,
                   what: str = 'image',
                   **options) -> sitk.Image:
        """Read ``path`` as one 3D SimpleITK image in its stored geometry
        (HU; used by the dataset converters). Readers of inputs that are not
        one regular grid need not support it.

        Args:
            path: The input.
            case_id, what: Case name and role (``'image'``) for messages.
            **options: As for :meth:`read`.

        Raises:
            VolumeError: The format or input gives no single image.
        """
        raise VolumeError(f'{path}: {self.name} reads no single 3D image '
                          'for conversion')
