"""Input builders for images and video: pixels in the layouts models take, and what goes
beside them (patch grids, image sizes, masks, region features).

>>> from transformers import ViTConfig
>>> context = InputContext(None, ViTConfig(image_size=32), {})
>>> [tuple(image.shape) for image in pixel_values(context)][:2]
[(1, 3, 32, 32), (1, 1, 3, 32, 32)]
"""

from __future__ import annotations

import torch

from analyzer.frontend.hf_input_context import (
    InputContext,
    int_of,
    is_int,
    required_names,
)


def _image_size(ctx: InputContext) -> int:
    return image_shape(ctx)[0]


def image_shape(ctx: InputContext) -> tuple[int, int]:
    """``(height, width)``: ``--image-size``, else the config's (MGP-STR's is 32×128)."""
    if ctx.image_size is not None:
        return ctx.image_size, ctx.image_size
    size = ctx.value("image_size img_size", ctx.vision(), ctx.config)
    size = size if size is not None else ctx.value("image_size img_size max_img_size")
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(is_int(v) for v in size):
        return int(size[0]), int(size[1])
    side = int_of(size, 224)
    return side, side


def _channels(ctx: InputContext) -> int:
    return int_of(
        ctx.value("num_channels in_channels in_chans", ctx.vision(), ctx.config, default=3), 3
    )


def _patch_grid(ctx: InputContext) -> tuple[int, int, int, int]:
    """``(grid side, merge, patch, temporal patch)`` of a model fed flattened patches."""
    vision = ctx.vision()
    merge = int_of(getattr(vision, "spatial_merge_size", None), 1)
    patch = int_of(ctx.value("patch_size", vision), 14)
    temporal = int_of(getattr(vision, "temporal_patch_size", None), 1)
    side = max(2, merge) * max(1, min(4, ctx.seq_len // 4 // max(1, merge)))
    return side, merge, patch, temporal


def flattens_patches(ctx: InputContext) -> bool:
    return ctx.accepts("image_grid_thw") or ctx.accepts("grid_thw")


def flattened_patches(ctx: InputContext) -> torch.Tensor:
    side, _, patch, temporal = _patch_grid(ctx)
    return torch.randn(ctx.batch * side * side, _channels(ctx) * temporal * patch * patch)


def pixel_values(ctx: InputContext) -> list[torch.Tensor]:
    """Images ``(batch, C, H, W)`` of the config's size; video models' frames first
    ``(batch, frames, C, H, W)``; flattened patches for towers fed a patch grid, patch
    sequences for those told the patch layout (``spatial_shapes``). Then the other
    layouts models use: one image per sample as a 5-D stack, image pairs (matchers), an
    image four times the size (models that cut an image into scaled crops)."""
    (height, width), channels = image_shape(ctx), _channels(ctx)
    if ctx.accepts("prompt_pixel_values") and ctx.image_size is None:
        # SegGPT stacks the prompt above the image: the config's size is the pair's
        return [torch.randn(ctx.batch, channels, height // 2, width)]
    if flattens_patches(ctx):
        patches = flattened_patches(ctx)
        _, _, patch, temporal = _patch_grid(ctx)
        square = patches.reshape(patches.shape[0], channels * temporal, patch, patch)
        return [patches, square]
    image = torch.randn(ctx.batch, channels, height, width)
    layouts = [
        image,
        torch.randn(ctx.batch, 1, channels, height, width),
        torch.randn(ctx.batch, 2, channels, height, width),
    ]
    if 4 * max(height, width) <= 2048:  # a larger one costs too much where it fails
        layouts.append(torch.randn(ctx.batch, channels, 4 * height, 4 * width))
    if ctx.accepts("spatial_shapes"):  # Siglip2: a sequence of flattened patches
        patch = int_of(ctx.value("patch_size", ctx.vision()), 16)
        count = (height // patch) * (width // patch)
        layouts.insert(0, torch.randn(ctx.batch, count, channels * patch * patch))
    frames = ctx.value("num_frames", ctx.vision(), ctx.config)
    if isinstance(frames, int) and frames > 1:  # video models take (batch, frames, C, H, W)
        video = torch.randn(ctx.batch, frames, channels, height, width)
        return [video, video.transpose(1, 2).contiguous(), *layouts]
    return layouts


def video_values(ctx: InputContext) -> list[torch.Tensor] | None:
    """Frames ``(batch, frames, C, H, W)`` for models that take only video (V-JEPA 2,
    VideoPrism); a model that takes images too is given the image."""
    if ctx.accepts("pixel_values") and "pixel_values_videos" not in required_names(ctx):
        return None
    (height, width), channels = image_shape(ctx), _channels(ctx)
    frames = int_of(ctx.value("num_frames frames_per_clip", ctx.vision(), ctx.config), 8)
    video = torch.randn(ctx.batch, frames, channels, height, width)
    return [video, video.transpose(1, 2).contiguous()]


def patch_layout(ctx: InputContext) -> torch.Tensor | None:
    """``(rows, columns)`` of patches per image, for a patch sequence (Siglip2)."""
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 3:
        return None
    (height, width), patch = image_shape(ctx), int_of(ctx.value("patch_size", ctx.vision()), 16)
    return torch.tensor([[height // patch, width // patch]] * pixels.shape[0])


def patch_counts(ctx: InputContext) -> torch.Tensor | None:
    """Patches per side of each image (MiniCPM-V's ``target_sizes``)."""
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4:
        return None
    patch = int_of(ctx.value("patch_size", ctx.vision()), 14)
    return torch.tensor([[pixels.shape[-2] // patch, pixels.shape[-1] // patch]] * ctx.batch)


def merge_sizes(ctx: InputContext) -> torch.Tensor | None:
    """The merger's pooling per image, beside a patch grid (VideoLLaMA 3)."""
    if "grid_thw" not in ctx.built and "image_grid_thw" not in ctx.built:
        return None
    _, merge, *_ = _patch_grid(ctx)
    return torch.tensor([merge] * ctx.batch)


def patch_mask(ctx: InputContext) -> torch.Tensor | None:
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 3:
        return None
    return torch.ones(pixels.shape[:2], dtype=torch.long)


def visual_features(ctx: InputContext) -> torch.Tensor | None:
    """Region features of a detector (LXMERT): ``(batch, boxes, visual_feat_dim)``."""
    width = ctx.value("visual_feat_dim")
    return torch.randn(ctx.batch, ctx.seq_len, width) if is_int(width) else None


def visual_positions(ctx: InputContext) -> torch.Tensor | None:
    width = ctx.value("visual_pos_dim")
    return torch.rand(ctx.batch, ctx.seq_len, width) if is_int(width) else None


def grid_thw(ctx: InputContext) -> torch.Tensor | None:
    if "pixel_values" not in ctx.built and "hidden_states" not in ctx.built:
        return None
    side, *_ = _patch_grid(ctx)
    return torch.tensor([[1, side, side]] * ctx.batch)


def image_sizes(ctx: InputContext) -> list[torch.Tensor | None] | None:
    """``(height, width)`` per image, for the models that tile images (LLaVA-NeXT); the
    others take the argument but fail on it, so leaving it out is the alternative."""
    if "pixel_values" not in ctx.built:
        return None
    size = _image_size(ctx)
    return [torch.tensor([[size, size]] * ctx.batch), None]


def resized_positions(ctx: InputContext) -> bool | None:
    """Position embeddings are interpolated when the image size asked for is not the
    config's (a ViT trained at 224 analysed at 384)."""
    if ctx.image_size is None or "pixel_values" not in ctx.built:
        return None
    configured = ctx.value("image_size img_size", ctx.vision(), ctx.config)
    return True if int_of(configured, ctx.image_size) != ctx.image_size else None


def pixel_mask(ctx: InputContext) -> torch.Tensor | None:
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4:
        return None
    return torch.ones(pixels.shape[0], *pixels.shape[-2:], dtype=torch.long)
