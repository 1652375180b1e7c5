"""The 2.5D -> 3D lift shared by every volumetric backbone."""
import torch


def lift_to_5d(x: torch.Tensor, in_channels: int = 1) -> torch.Tensor:
    """Lift a 2.5D slice stack to a 5D volume.

    Outside the backbone a sample is a stack of ``S`` neighbouring CT slices
    stored as image channels. With ``K = in_channels`` windows (usually 1) the
    channels are window-major: channel ``k * S + s`` holds slice ``s`` of
    window ``k``. This function turns ``(N, K*S, H, W)`` into
    ``(N, K, S, H, W)`` (a view when the input is contiguous; no copy, no
    loop). A 5D input is returned unchanged after checking ``K``.

    Args:
        x: ``(N, K*S, H, W)`` stack or ``(N, K, S, H, W)`` volume.
        in_channels: Number of windows ``K``.

    Returns:
        ``(N, K, S, H, W)`` tensor.

    Raises:
        ValueError: ``x`` is not 4D/5D, or its channels do not split into
            ``in_channels`` equal groups.
    """
    if in_channels < 1:
        raise ValueError(f'in_channels must be >= 1, got {in_channels}')
    if x.dim() == 5:
        if x.size(1) != in_channels:
            raise ValueError(
                f'5D input has {x.size(1)} channels (shape '
                f'{tuple(x.shape)}) but the backbone was built with '
                f'in_channels={in_channels}')
        return x
    if x.dim() != 4:
        raise ValueError('expected a (N, K*S, H, W) slice stack or a '
                         f'(N, K, S, H, W) volume, got shape {tuple(x.shape)}')
    n, c, h, w = x.shape
    if c % in_channels != 0:
        raise ValueError(
            f'input has {c} channels, which do not split into '
            f'in_channels={in_channels} windows of equally many slices')
    return x.reshape(n, in_channels, c // in_channels, h, w)
