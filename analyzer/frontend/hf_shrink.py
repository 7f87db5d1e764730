"""Shrinking a transformers config: fewer layers of every kind, narrower attention.

The census analyses ~600 architectures in minutes, so each is built small: every layer
count (in sub-configs too) is cut to :data:`SHRUNK_LAYERS`, but *one layer of every kind
is kept*: a hybrid model whose ``layer_types`` read ``[linear, linear, linear, full, …]``
keeps a linear and a full layer, a model with a list of MoE layer indices keeps a dense
and an MoE layer. Lists with one entry per layer, lists of layer indices, dicts keyed by
layer index and a backbone's ``out_features``/``out_indices`` follow the kept layers. At
``level="widths"`` the attention also keeps :data:`SHRUNK_HEADS` heads of its own head
size (the hidden size follows, the MLP in proportion), a mixture of experts keeps four
experts and routes to two, and width fields elsewhere that equalled a narrowed width
follow it (a projector's output is the text model's width).

Shrinking never changes *what kind* of circuit a model is (the primitive set, the site
kinds, the degree), only how many copies of each block there are; the census records
every changed field.

>>> from transformers import LlamaConfig
>>> small, changed = shrink_config(LlamaConfig(), "llama", "widths")
>>> small.num_hidden_layers, small.hidden_size, small.num_attention_heads
(2, 256, 2)
"""

from __future__ import annotations

import copy
from typing import Any

SHRUNK_LAYERS = 2
SHRUNK_HEADS = 2
SHRINK_LEVELS = ("widths", "layers")
"""What :func:`shrink_config` may cut: ``"widths"`` (and layers), or ``"layers"`` alone."""

LAYER_FIELDS = (
    "num_hidden_layers num_layers n_layer n_layers encoder_layers decoder_layers "
    "num_encoder_layers num_decoder_layers depth num_blocks num_hidden_blocks "
    "encoder_num_hidden_layers decoder_num_hidden_layers vision_layers text_layers "
    "num_text_layers num_vision_layers num_transformer_layers"
).split()
"""Config fields that count layers."""

# Configs that derive their layer kinds from a formula, not a list: the fields that keep
# one layer of each kind.
SHRINK_SPECIAL: dict[str, dict[str, Any]] = {
    "gpt_neo": {"attention_types": [[["global", "local"], 1]]},  # one global, one local
    "funnel": {"block_sizes": [1, 1, 1]},  # one layer per block
    # Dory stores (attention, mlp) pairs: three layers, one input, recurrent, output each
    "dory": {
        "num_hidden_layers": 6,
        "layer_types": [*("sliding_attention", "mlp") * 2, "full_attention", "mlp"],
        "n_input_layers": 2,
        "n_recurrent_layers": 2,
        "n_output_layers": 2,
    },
    "hrm_text": {"H_cycles": 1, "L_cycles": 1, "num_layers_per_stack": 1},  # loops once
    # attention at i % 4 == 2, experts at odd i: mamba, mamba+MoE, attention, mamba+MoE
    "jamba": {
        "num_hidden_layers": 4,
        "attn_layer_period": 4,
        "attn_layer_offset": 2,
        "expert_layer_period": 2,
        "expert_layer_offset": 1,
    },
}

# Default configs whose forward fails in transformers itself, with the setting of the
# checkpoint the config class documents (its auto_docstring) that makes it run.
_HALF_ROTARY = {"rope_theta": 10000.0, "rope_type": "default", "partial_rotary_factor": 0.5}
CHECKPOINT_SETTINGS: dict[str, dict[str, Any]] = {
    # the rotary's mrope_section [8, 12, 12] covers half of the 128-wide heads: the
    # checkpoints rotate half (GLM-4.1V-9B-Thinking, GLM-Image: partial_rotary_factor 0.5)
    "glm4v_text": {"rope_parameters": _HALF_ROTARY},
    "glm_image_text": {"rope_parameters": _HALF_ROTARY},
    # 96 heads of 128 over a 4096 residual (GLM-4.5V: head_dim 128), not 4096 // 96
    "glm4v_moe_text": {"head_dim": 128},
}

_INDEX_NAMES = ("indices", "idx", "idxs", "layers", "layer_ids", "layer_index")
_HIDDEN = "hidden_size d_model n_embd embed_dim".split()
_HEADS = (
    "num_attention_heads n_head n_heads num_heads encoder_attention_heads decoder_attention_heads"
).split()
_KV_HEADS = "num_key_value_heads n_kv_heads num_kv_heads".split()
_FFN = (
    "intermediate_size d_ff ffn_dim encoder_ffn_dim decoder_ffn_dim n_inner "
    "moe_intermediate_size shared_expert_intermediate_size ffn_hidden_size "
    "expert_ffn_hidden_size"
).split()
_EXPERTS = "num_local_experts num_experts n_routed_experts moe_num_experts zero_expert_num".split()
_ROUTED = "num_experts_per_tok moe_topk top_k num_selected_experts moe_k".split()


def shrink_config(
    config: Any,
    model_type: str,
    level: str = "layers",
    keep: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[Any, dict[str, Any]]:
    """A copy of ``config`` shrunk at ``level`` (see the module docstring), leaving the
    fields in ``keep`` (the user's overrides) alone; and the changed fields."""
    document = copy.deepcopy(config.to_dict())
    changed: dict[str, Any] = {}
    _checkpoint_settings(document, model_type, "", keep, changed)  # before narrowing
    narrowed: dict[int, int] = {}
    _shrink(document, "", keep, changed, narrowed if level == "widths" else None)
    if narrowed:
        _follow(document, "", keep, changed, narrowed)
    _placeholder_ids(document, keep, changed)
    for key, value in SHRINK_SPECIAL.get(model_type, {}).items():
        if key not in keep:
            document[key] = changed[key] = value
    if not changed:
        return config, {}
    return type(config).from_dict(document), changed


def repaired_config(
    config: Any,
    model_type: str,
    keep: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[Any, dict[str, Any]]:
    """``config`` with only the repairs of :func:`shrink_config` (the
    :data:`CHECKPOINT_SETTINGS`, unset placeholder ids), for a model built at full size:
    without them transformers' own forward fails. Returns the config and the fields set.

    >>> from transformers import AutoConfig
    >>> _, changed = repaired_config(AutoConfig.for_model("glm4v_text"), "glm4v_text")
    >>> changed["rope_parameters"]["partial_rotary_factor"]
    0.5
    """
    document = copy.deepcopy(config.to_dict())
    changed: dict[str, Any] = {}
    _checkpoint_settings(document, model_type, "", keep, changed)
    _placeholder_ids(document, keep, changed)
    if not changed:
        return config, {}
    return type(config).from_dict(document), changed


def _checkpoint_settings(
    document: dict[str, Any], model_type: str, prefix: str, keep: set[str], changed: dict[str, Any]
) -> None:
    """The :data:`CHECKPOINT_SETTINGS` of the config and of each sub-config, by the
    sub-config's own type: GLM-4.1V's ``text_config`` is a ``glm4v_text`` config."""
    for key, value in CHECKPOINT_SETTINGS.get(model_type, {}).items():
        if prefix + key not in keep:
            document[key] = changed[prefix + key] = copy.deepcopy(value)
    for key, sub in document.items():
        if isinstance(sub, dict) and isinstance(sub.get("model_type"), str):
            _checkpoint_settings(sub, sub["model_type"], f"{prefix}{key}.", keep, changed)


_PLACEHOLDERS = ("image_token_index", "image_token_id", "video_token_index", "video_token_id")


def _placeholder_ids(document: dict[str, Any], keep: set[str], changed: dict[str, Any]) -> None:
    """A placeholder token id the default config leaves unset (BLIP-2's
    ``image_token_index`` is None, so its forward compares the ids with None and fails)
    becomes the last id of the text vocabulary, as the checkpoints add it there
    (blip2-opt-2.7b: 50265 of 50272): the image is then spliced into the text as it is
    in every real use."""
    text = next((v for k, v in document.items() if k == "text_config" and isinstance(v, dict)), {})
    vocab = text.get("vocab_size", document.get("vocab_size"))
    if not _is_int(vocab) or vocab < 2:
        return
    for key in _PLACEHOLDERS:
        if key in document and document[key] is None and key not in keep:
            document[key] = changed[key] = vocab - 1


def _shrink(
    document: dict[str, Any],
    prefix: str,
    keep: set[str],
    changed: dict[str, Any],
    narrowed: dict[int, int] | None,
) -> None:
    depths = document.get("depths")
    stages = len(depths) if isinstance(depths, list) else None
    for key in LAYER_FIELDS:
        count = document.get(key)
        if key in keep or not _is_int(count) or count <= SHRUNK_LAYERS or count == stages:
            continue  # (Swin's num_layers counts the stages of `depths`)
        kept = kept_layers(document, count, keep)
        document[key] = changed[prefix + key] = len(kept)
        _follow_layers(document, key, count, kept, keep)
        for dense in ("first_k_dense_replace", "num_dense_layers"):  # dense first, then MoE
            if _is_int(document.get(dense)) and document[dense] > 1 and dense not in keep:
                document[dense] = changed[prefix + dense] = 1
    if isinstance(depths, list) and depths and "depths" not in keep:
        if all(_is_int(v) for v in depths) and any(v > 1 for v in depths):
            document["depths"] = changed[prefix + "depths"] = [1] * len(depths)
    if narrowed is not None:
        _narrow(document, prefix, keep, changed, narrowed)
    for key, value in document.items():
        if isinstance(value, dict) and "model_type" in value:  # a sub-config
            _shrink(value, f"{prefix}{key}.", set(), changed, narrowed)


def kept_layers(document: dict[str, Any], count: int, keep: set[str] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """The layers to keep of ``count``: the first of every kind, then the first others,
    up to :data:`SHRUNK_LAYERS` at least. A layer's kind is its entry in every per-layer
    list and whether every index list (or index-keyed dict) names it.

    >>> kept_layers({"layer_types": ["linear"] * 3 + ["full"] + ["linear"] * 3 + ["full"]}, 8)
    [0, 3]
    >>> kept_layers({"mlp_only_layers": [], "moe_layers": [5]}, 6)
    [0, 5]
    """
    kinds: list[list[Any]] = [[] for _ in range(count)]
    for name, value in document.items():
        if name in keep:
            continue
        if _per_layer(name, value, count):
            for i in range(count):
                kinds[i].append(repr(value[i]))
        elif _layer_indices(name, value, count):
            chosen = {int(i) for i in value}
            for i in range(count):
                kinds[i].append(i in chosen)
    first: dict[str, int] = {}
    for i, kind in enumerate(kinds):
        first.setdefault(repr(kind), i)
    kept = sorted(first.values())
    for i in range(count):
        if len(kept) >= SHRUNK_LAYERS:
            break
        if i not in kept:
            kept.append(i)
    return sorted(kept)


def _per_layer(name: str, value: Any, count: int) -> bool:
    return isinstance(value, list) and len(value) == count and not _indexish(name)


def _indexish(name: str) -> bool:
    return name.endswith(_INDEX_NAMES) or name in ("out_indices", "out_features")


def _layer_indices(name: str, value: Any, count: int) -> bool:
    """A list of layer indices (``moe_layers``, ``full_attn_idxs``) or a dict keyed by
    them (``per_layer_config``)."""
    if isinstance(value, dict) and value and name.startswith("per_layer"):
        return all(str(k).isdigit() and int(k) < count for k in value)
    if not isinstance(value, list) or not _indexish(name) or name.startswith("out_"):
        return False
    return all(_is_int(i) and 0 <= i < count for i in value)


def _follow_layers(
    document: dict[str, Any], key: str, count: int, kept: list[int], keep: set[str]
) -> None:
    """Per-layer lists, index lists and dicts, and out_features follow the kept layers."""
    new = {old: position for position, old in enumerate(kept)}
    for name, value in list(document.items()):
        if name == key or name in keep:
            continue
        if _per_layer(name, value, count):
            document[name] = [value[i] for i in kept]
        elif _layer_indices(name, value, count):
            if isinstance(value, dict):
                document[name] = {str(new[int(k)]): v for k, v in value.items() if int(k) in new}
            else:
                document[name] = [new[i] for i in value if i in new]
    # a backbone's outputs are named after its stages, one per layer (BEiT's 'stage12')
    features = document.get("out_features")
    if isinstance(features, list) and features and "out_features" not in keep:
        stages = {f"stage{i + 1}" for i in range(count)}
        if set(features) <= stages:
            document["out_features"] = [f"stage{len(kept)}"]
            if isinstance(document.get("out_indices"), list):
                document["out_indices"] = [len(kept)]


def _narrow(
    document: dict[str, Any],
    prefix: str,
    keep: set[str],
    changed: dict[str, Any],
    narrowed: dict[int, int],
) -> None:
    """Two heads of the same head size: ``hidden = 2·head_dim``, the MLP in proportion;
    at most four experts, two of them routed to. Only where one hidden size and one head
    count are set."""
    if keep & {*_HIDDEN, *_HEADS, *_KV_HEADS, *_FFN, *_EXPERTS, *_ROUTED}:
        return
    _fewer_experts(document, prefix, changed)
    hidden = {document[k] for k in _HIDDEN if _is_int(document.get(k))}
    heads = {document[k] for k in _HEADS if _is_int(document.get(k))}
    if len(hidden) != 1 or len(heads) != 1:
        return
    (width,), (count,) = hidden, heads
    head = document.get("head_dim")
    if not _is_int(head) or head <= 0:
        head = width // count  # as transformers derives it, remainder or not
    if count <= SHRUNK_HEADS or head * SHRUNK_HEADS >= width:
        return
    narrow = head * SHRUNK_HEADS
    narrowed.setdefault(width, narrow)
    for key in _HIDDEN:
        if _is_int(document.get(key)):
            document[key] = changed[prefix + key] = narrow
    for key in _HEADS:
        if _is_int(document.get(key)):
            document[key] = changed[prefix + key] = SHRUNK_HEADS
    for key in _KV_HEADS:
        value = document.get(key)
        if _is_int(value) and value > 1:  # grouped stays grouped, full stays full
            document[key] = changed[prefix + key] = 1 if value < count else SHRUNK_HEADS
    for key in _FFN:
        value = document.get(key)
        if _is_int(value) and value > 0:
            document[key] = changed[prefix + key] = ffn_width(value, narrow, width)


FFN_ALIGNMENT = 8
"""A narrowed MLP width is a multiple of this many elements. The experts of a mixture
run ``torch._grouped_mm`` when the real model runs eagerly (the census's real run,
validate's graph-fidelity reference), and on the CPU it asks for rows of a multiple of
16 bytes, which an MLP of 37 float32 columns breaks. (Under export transformers takes
its ``grouped_mm_fallback`` instead, which the traced graph holds; graph fidelity
compares the two on the same inputs.)"""


def ffn_width(value: int, narrow: int, width: int) -> int:
    """An MLP width ``value`` scaled as the hidden size goes from ``width`` to
    ``narrow``, rounded up to a multiple of :data:`FFN_ALIGNMENT` (8 at least).

    >>> ffn_width(1408, 256, 2048), ffn_width(11008, 256, 4096)
    (176, 688)
    >>> ffn_width(300, 256, 2048)
    40
    """
    scaled = -(-value * narrow // width)
    return max(FFN_ALIGNMENT, -(-scaled // FFN_ALIGNMENT) * FFN_ALIGNMENT)


def _fewer_experts(document: dict[str, Any], prefix: str, changed: dict[str, Any]) -> None:
    """Four experts, two routed to per token, one group: routing and gating stay."""
    for key in _EXPERTS:
        value = document.get(key)
        if _is_int(value) and value > 4:
            document[key] = changed[prefix + key] = 4
    experts = any(_is_int(document.get(k)) and document[k] > 1 for k in _EXPERTS)
    for key in _ROUTED:
        value = document.get(key)
        if _is_int(value) and value > 2:
            document[key] = changed[prefix + key] = 2
        elif key in document and value is None and experts:
            # unset though experts are configured (DeepSeek-V2's default routes to
            # None): route to two, as every checkpoint routes to some (V2-Lite: 6 of 64)
            document[key] = changed[prefix + key] = 2
    for key in ("n_group", "topk_group"):
        if (
            _is_int(document.get(key))
            and document[key] > 1
            and changed.keys() & {prefix + k for k in _EXPERTS}
        ):
            document[key] = changed[prefix + key] = 1


def _follow(
    document: dict[str, Any],
    prefix: str,
    keep: set[str],
    changed: dict[str, Any],
    narrowed: dict[int, int],
) -> None:
    """Width fields left alone that equal a narrowed width follow it: a vision tower's
    output size is the text model's width, not the tower's own."""
    for key, value in document.items():
        if isinstance(value, dict) and "model_type" in value:
            _follow(value, f"{prefix}{key}.", set(), changed, narrowed)
        elif (
            _is_int(value) and value in narrowed and prefix + key not in changed
            and key not in keep and "head" not in key
            and (key in _HIDDEN or key.endswith(("hidden_size", "_dim")))
        ):  # fmt: skip
            document[key] = changed[prefix + key] = narrowed[value]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
