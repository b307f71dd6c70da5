"""Batched image augmentation as tensor ops.

Works on any device: the same code augments a CPU batch or a GPU-resident one, so
no per-sample Python transform sits on the hot path.
"""
from __future__ import annotations

import torch


def crop_offsets(n: int, padding: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample window offsets ``(dy, dx)`` in ``0..2*padding``, drawn on the CPU."""
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device="cpu")
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device="cpu")
    return dy, dx


def flip_flags(n: int, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Which samples to mirror, drawn on the CPU."""
    return torch.rand(n, generator=generator, device="cpu") < p


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None,
                fill: torch.Tensor | float = 0.0, offsets: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Pad each image by ``padding`` pixels and cut a random window of the original size.

    ``fill`` is the padding value (0 for uint8 zero-padding, or a per-channel tensor
    shaped ``[C]`` for mean padding). Every sample gets its own offset: ``offsets``
    (from :func:`crop_offsets`, already on ``x``'s device) or drawn here from ``generator``.
    """
    if padding <= 0:
        return x
    n, c, h, w = x.shape
    padded = x.new_empty((n, c, h + 2 * padding, w + 2 * padding))
    if torch.is_tensor(fill):
        padded.copy_(fill.to(x.device, x.dtype).view(1, c, 1, 1).expand_as(padded))
    else:
        padded.fill_(fill)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    dy, dx = offsets if offsets is not None else (t.to(x.device) for t in crop_offsets(n, padding, generator))
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device).view(1, h))  # [n, h]
    cols = (dx.view(n, 1) + torch.arange(w, device=x.device).view(1, w))  # [n, w]
    idx_rows = rows.view(n, 1, h, 1).expand(n, c, h, w + 2 * padding)
    out = padded.gather(2, idx_rows)
    idx_cols = cols.view(n, 1, 1, w).expand(n, c, h, w)
    return out.gather(3, idx_cols)


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5,
                flags: torch.Tensor | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability ``p`` (or where ``flags``, on ``x``'s device)."""
    flip = flags if flags is not None else flip_flags(x.shape[0], generator, p).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def normalize(x_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [N,C,H,W] in 0..255 -> float, per-channel standardised."""
    x = x_uint8.to(dtype).div_(255.0)
    mean = mean.to(x.device, dtype).view(1, -1, 1, 1)
    std = std.to(x.device, dtype).view(1, -1, 1, 1)
    return (x - mean) / std


def augmented(images: torch.Tensor, labels: torch.Tensor, crop_padding: int, flip: bool, pad_fill: str,
              mean: torch.Tensor, std: torch.Tensor):
    """``make(indices, generator) -> (normalised images, labels, indices)``: the samples at ``indices``, cropped
    and flipped with draws from ``generator`` as an image DataModule's training loader augments them (``pad_fill``:
    ``zero`` or ``mean``). What heads on a frozen backbone read when they train on augmented images."""
    fill = (mean * 255).round() if pad_fill == "mean" else 0.0

    def make(indices: torch.Tensor, generator: torch.Generator):
        x = images.index_select(0, indices.to(images.device))
        if crop_padding:
            x = random_crop(x, crop_padding, generator, fill)
        if flip:
            x = random_flip(x, generator)
        return normalize(x, mean, std), labels[indices.to(labels.device)], indices
    return make
