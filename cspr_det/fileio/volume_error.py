"""The error of every CT reader and writer of :mod:`cspr_det.fileio`."""


class VolumeError(ValueError):
    """Bad input volume; the message is one line naming the case and what is
    wrong."""
