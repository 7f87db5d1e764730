"""Random weights for a model built on the meta device (which has none).

Each module's own parameters first get a plain random initialisation (normal, scaled by
``1/√fan_in``; buffers zero), then the model's own initialiser where it has one — the
``_init_weights`` of the model that holds it (transformers: it also recomputes rotary
frequencies) or the module's ``reset_parameters`` — so no weight is left as uninitialised
memory. The model that holds a module is the nearest one with an ``_init_weights`` of its
own, as transformers dispatches its initialisation: a composite model's towers read their
own configs (:func:`initialising_models`).

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


def initialising_models(root: nn.Module) -> dict[nn.Module, nn.Module]:
    """Each module of ``root`` → the model whose ``_init_weights`` initialises it: the
    nearest enclosing module (itself included) with one of its own, else ``root``. Aimv2's
    vision tower reads ``initializer_range`` from its own config, which the composite
    config lacks; the root's initialiser fails there.

    >>> outer = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    >>> outer[1]._init_weights = lambda module: None
    >>> owners = initialising_models(outer)
    >>> owners[outer[0]] is outer, owners[outer[1][0]] is outer[1]
    (True, True)
    """
    owners: dict[nn.Module, nn.Module] = {}

    def walk(module: nn.Module, owner: nn.Module) -> None:
        owners.setdefault(module, owner)
        for child in module.children():
            own = callable(getattr(child, "_init_weights", None))
            walk(child, child if own else owner)

    walk(root, root)
    return owners


def random_model_weights(root: nn.Module, device: torch.device) -> None:
    """Materialise every module of ``root`` on ``device`` (:func:`random_weights`), each
    initialised by the model that holds it (:func:`initialising_models`)."""
    owners = initialising_models(root)
    for module in root.modules():
        random_weights(module, owners[module], device)
