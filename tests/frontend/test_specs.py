"""Model specs: devices checked before any work, parameter counts, factories that return
keyword inputs, keyword input specs, did-you-mean."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from analyzer.errors import SpecError
from analyzer.frontend.specs import (
    check_device,
    load_model,
    parameter_counts,
    parse_input_spec,
    parse_kwargs,
)


def test_devices_are_checked_with_a_reason() -> None:
    assert check_device("cpu") == "cpu" and check_device("meta") == "meta"
    with pytest.raises(SpecError, match="not a device torch knows"):
        check_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="CUDA is not available here"):
            check_device("cuda:0")


def test_parameter_counts_match_numel_and_count_shared_weights_once() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(4, 4)) for _ in range(3))
            self.head = nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight  # tied: one tensor, two modules

    model = Tied()
    counts = parameter_counts(model)
    assert counts[""] == sum(p.numel() for p in model.parameters()) == 40 + 3 * 20
    assert counts["blocks"] == 60 and counts["blocks.1"] == 20 and counts["blocks.1.0"] == 20
    assert counts["embed"] == 40 and "head" not in counts  # counted where it first appears
    assert list(counts) == ["", "blocks", "blocks.0", "blocks.0.0", "blocks.1", "blocks.1.0",
                            "blocks.2", "blocks.2.0", "embed"]  # fmt: skip
    assert set(parameter_counts(model, depth=1)) == {"", "blocks", "embed"}


def test_keyword_input_specs() -> None:
    kwargs = parse_kwargs(["mask=bool[1,16]", "ids=int64[1,16]<100"])
    assert kwargs["mask"].dtype == torch.bool and int(kwargs["ids"].max()) < 100
    for bad in ("mask", "=float32[1]", "mask=float32[x]"):
        with pytest.raises(SpecError):
            parse_kwargs([bad])
    with pytest.raises(SpecError, match="twice"):
        parse_kwargs(["a=float32[1]", "a=float32[2]"])


def test_factories_may_return_keyword_inputs(tmp_path, monkeypatch) -> None:
    (tmp_path / "kw_models_test.py").write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def forward(self, x, scale=None):\n"
        "        return x * scale\n"
        "def build():\n"
        "    return M(), (torch.randn(2),), {'scale': torch.randn(2)}\n"
        "def wrong():\n"
        "    return M(), (torch.randn(2),), ['not a dict']\n"
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_model("kw_models_test:build")  # imported from the current folder
    assert set(loaded.kwargs) == {"scale"} and len(loaded.args) == 1
    with pytest.raises(SpecError, match="dict of keyword inputs"):
        load_model("kw_models_test:wrong")
    with pytest.raises(SpecError, match="did you mean 'build'"):
        load_model("kw_models_test:biuld")


def test_a_bound_is_for_integer_inputs_only() -> None:
    for text in ("float32[2]<5", "float64[2,3]<1", "complex64[4]<9"):
        with pytest.raises(SpecError, match="integer inputs only"):
            parse_input_spec(text)
    ids = parse_input_spec("int64[200]<5")
    assert ids.dtype == torch.int64 and int(ids.min()) >= 0 and int(ids.max()) <= 4
    with pytest.raises(SpecError, match="at least 1"):
        parse_input_spec("int64[2]<0")
    assert parse_input_spec("float32[2,3]").shape == (2, 3)


def test_input_specs_give_the_dtype_shape_device_and_range_asked_for() -> None:
    """Each part of a spec reaches the tensor (killed mutants of ``parse_input_spec``)."""
    for text, dtype in (("float64[3,4]", torch.float64), ("complex64[3,4]", torch.complex64)):
        drawn = parse_input_spec(text)
        assert drawn.dtype == dtype and drawn.shape == (3, 4)
        assert not torch.equal(drawn, drawn.real.round().to(dtype))  # random, not 0/1 ids
    assert parse_input_spec("float32[2, 3]").shape == (2, 3)
    assert parse_input_spec("float32[2,3]", device="meta").device.type == "meta"
    assert parse_input_spec("int64[4]<7", device="meta").device.type == "meta"
    ids = parse_input_spec("int32[400]")  # no bound: 0 or 1
    assert ids.dtype == torch.int32 and set(ids.tolist()) == {0, 1}
    ids = parse_input_spec("int64[400]<5")
    assert set(ids.tolist()) == {0, 1, 2, 3, 4}
    assert set(parse_input_spec("int64[8]<1").tolist()) == {0}
    with pytest.raises(SpecError, match="'floatx' is not a torch dtype"):
        parse_input_spec("floatx[2]")
    example = r"malformed.*'int64\[1,16\]<50000' for token ids below 50000$"
    with pytest.raises(SpecError, match=example):
        parse_input_spec("float32(2)")
