"""Random weights for a model built on the meta device (which has none).

Each module's own parameters first get a plain random initialisation (normal, scaled by
``1/√fan_in``; buffers zero), then the model's own initialiser where it has one — the
root's ``_init_weights`` (transformers: it also recomputes rotary frequencies) or the
module's ``reset_parameters`` — so no weight is left as uninitialised memory.

>>> import torch
>>> with torch.device("meta"):
...     layer = torch.nn.Linear(3, 2)
>>> random_weights(layer, layer, torch.device("cpu"))
>>> layer.weight.device.type, bool(torch.isfinite(layer.weight).all())
('cpu', True)
"""

from __future__ import annotations

import math

import torch
from torch import nn


def random_weights(module: nn.Module, root: nn.Module, device: torch.device) -> None:
    """Materialise ``module``'s own parameters and buffers on ``device``, randomly."""
    own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    if not own or not any(t.is_meta for t in own):
        return
    module.to_empty(device=device, recurse=False)
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            fan_in = parameter.shape[-1] if parameter.dim() > 0 else 1
            parameter.normal_(0.0, 1.0 / math.sqrt(max(fan_in, 1)))
        for buffer in module.buffers(recurse=False):
            buffer.zero_()
    initialise = getattr(root, "_init_weights", None)
    if callable(initialise):
        initialise(module)
    elif callable(getattr(module, "reset_parameters", None)):
        module.reset_parameters()
