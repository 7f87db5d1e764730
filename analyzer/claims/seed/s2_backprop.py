"""S2 — "the backprop gradient update necessarily includes another key operator — matrix
transpose".

Holds for the exact gradient: ``∂L/∂x = δ·W`` (a static transpose of a parameter) and
``∂L/∂W = δᵀ·x`` (an outer product of two data-dependent values), checked against
autograd; the weights after T SGD steps are linear attention over the training inputs
(the dual form, to 1e-12·max(1, |f|)). The training-step *graph* of an MLP is measured
too (:func:`training_graph_evidence`): one weight-gradient contraction site per linear
layer and ``transpose`` in its primitive set, none in its forward graph. Caveat, measured:
feedback alignment learns without the transpose, on a task where the hidden layer must
learn (a frozen hidden layer is the baseline it must beat).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from analyzer.claims.core import Check, claim
from analyzer.claims.seed.numeric import FLOAT, IDENTITY, relative_error

DUAL_FORM = IDENTITY  # an identity: 1e-12·max(1, |f|) in float64


def _mlp(generator: torch.Generator, sizes: tuple[int, ...] = (6, 8, 8, 3)) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (i, o) in enumerate(itertools.pairwise(sizes)):
        layer = nn.Linear(i, o).to(FLOAT)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(o, i, generator=generator, dtype=FLOAT) / i**0.5)
            layer.bias.copy_(torch.randn(o, generator=generator, dtype=FLOAT) * 0.1)
        layers.append(layer)
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _layer_gradients(check: Check) -> None:
    """For every linear layer of an MLP, autograd's gradients against δ·W and δᵀ·x."""
    generator = check.generator()
    mlp = _mlp(generator)
    x = torch.randn(5, 6, generator=generator, dtype=FLOAT)
    target = torch.randn(5, 3, generator=generator, dtype=FLOAT)
    inputs: dict[int, torch.Tensor] = {}
    outputs: dict[int, torch.Tensor] = {}

    def keep(index: int):
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            args[0].retain_grad() if args[0].requires_grad else None
            out.retain_grad()
            inputs[index], outputs[index] = args[0], out

        return hook

    for index, layer in enumerate(mlp):
        if isinstance(layer, nn.Linear):
            layer.register_forward_hook(keep(index))
    x.requires_grad_(True)
    y = mlp(x)
    F.mse_loss(y, target, reduction="sum").backward()
    input_error = weight_error = 0.0
    for index, layer in enumerate(mlp):
        if not isinstance(layer, nn.Linear):
            continue
        delta = outputs[index].grad  # ∂L/∂y of this layer
        input_error = max(input_error, relative_error(delta @ layer.weight, inputs[index].grad))
        weight_error = max(weight_error, relative_error(delta.T @ inputs[index], layer.weight.grad))
    check.measure("∂L/∂x = δ·W for every linear layer (vs autograd)", input_error)
    check.measure("∂L/∂W = δᵀ·x for every linear layer (vs autograd)", weight_error)


def _conv_gradient(check: Check) -> None:
    generator = check.generator(1)
    weight = torch.randn(4, 3, 3, 3, generator=generator, dtype=FLOAT)
    x = torch.randn(2, 3, 7, 7, generator=generator, dtype=FLOAT, requires_grad=True)
    y = F.conv2d(x, weight, padding=1)
    delta = torch.randn(y.shape, generator=generator, dtype=FLOAT)
    (y * delta).sum().backward()
    by_formula = F.conv_transpose2d(delta, weight, padding=1)
    check.measure(
        "conv: ∂L/∂x = conv_transpose(δ, W) (vs autograd)", relative_error(by_formula, x.grad)
    )


def _dual_form(check: Check, steps: int = 20, lr: float = 0.1) -> None:
    """T SGD steps on a linear layer, then ``W_T·q`` against ``W_0·q + Σ e_t·(x_tᵀ·q)``."""
    generator = check.generator(2)
    layer = nn.Linear(5, 3).to(FLOAT)
    optimiser = torch.optim.SGD(layer.parameters(), lr=lr)
    initial = layer.weight.detach().clone()
    keys, values = [], []
    for _ in range(steps):
        x = torch.randn(1, 5, generator=generator, dtype=FLOAT)
        target = torch.randn(1, 3, generator=generator, dtype=FLOAT)
        y = layer(x)
        y.retain_grad()
        optimiser.zero_grad()
        (0.5 * ((y - target) ** 2).sum()).backward()
        keys.append(x[0])
        values.append(-lr * y.grad[0])  # e_t = −η·δ_t
        optimiser.step()
    query = torch.randn(5, generator=generator, dtype=FLOAT)
    trained = layer.weight.detach() @ query
    attention = initial @ query + torch.stack(values).T @ (torch.stack(keys) @ query)
    check.measure(
        f"dual form after {steps} SGD steps: W_T·q vs W_0·q + Σ e_t·(x_tᵀ·q)",
        relative_error(attention, trained), tolerance=DUAL_FORM, note="the seed measured 4.4e-15",
    )  # fmt: skip


def training_graph_evidence(check: Check) -> None:
    """One SGD step of an MLP traced as a graph (``analyzer.TrainingStep``): a
    weight-gradient contraction site per linear layer and ``transpose`` in its primitive
    set; its forward graph has no site."""
    import analyzer

    name = "weight-gradient contraction sites per linear layer in the training-step graph"
    mlp = _mlp(check.generator(3))
    x = torch.randn(4, 6, dtype=FLOAT)
    layers = sum(isinstance(m, nn.Linear) for m in mlp.modules())
    forward = analyzer.analyze(mlp, (x,))
    traced = analyzer.trace(mlp, (x,), training=analyzer.TrainingStep(loss="mse", lr=0.1))
    step = analyzer.analyze(traced)
    contractions = sum(site.kind == "contraction" for site in step.sites)
    check.measure(name, contractions / layers, expected=1.0, tolerance=0.0, decides=True)
    check.measure("input-by-input sites in the forward graph", len(forward.sites), tolerance=0.0)
    check.note(
        "training_graph",
        {"primitive_set": step.circuit_class, "forward_primitive_set": forward.circuit_class,
         "contraction_sites": contractions, "linear_layers": layers},
    )  # fmt: skip
    assert "transpose" in step.circuit_class, (
        f"the training step's primitive set {step.circuit_class} lacks transpose"
    )


@claim(
    "The backprop gradient update necessarily includes another key operator — matrix transpose",
    id="S2",
    expect="holds with caveat",
    identity=True,
    tolerance=IDENTITY,
    precise="For y = x·Wᵀ + b, ∂L/∂x = δ·W (a static transpose of a parameter) and ∂L/∂W = δᵀ·x "
    "(an outer product of two data-dependent values: a contraction site with a dynamic "
    "transpose); for conv, ∂L/∂x is conv_transpose of δ with the same weight. After T SGD steps "
    "W_T·q = W_0·q + Σ_t e_t·(x_tᵀ·q), e_t = −η·δ_t: linear attention over the training inputs.",
    sources=(
        "Irie, Csordás, Schmidhuber, ICML 2022 (the dual form)",
        "Lillicrap, Cownden, Tweed, Akerman, Nat. Commun. 2016 (feedback alignment)",
    ),
)
def s2_backprop(check: Check) -> None:
    _layer_gradients(check)
    _conv_gradient(check)
    _dual_form(check)
    training_graph_evidence(check)


# --- caveat: feedback alignment ---------------------------------------------------------


HIDDEN, INPUTS, OUTPUTS = 8, 20, 5  # fewer hidden units than inputs: the hidden layer must learn


def feedback_matrix(generator: torch.Generator) -> torch.Tensor:
    """The fixed random matrix feedback alignment sends the error back through."""
    return torch.randn(OUTPUTS, HIDDEN, generator=generator, dtype=FLOAT)


def train_two_layer(
    feedback: torch.Tensor | None,
    generator: torch.Generator,
    steps: int = 1500,
    lr: float = 0.05,
    freeze: bool = False,
) -> tuple[float, float]:
    """Train ``x → tanh(W1·x) → W2·h`` by SGD on a linear teacher of rank 5 from 20 inputs
    through 8 hidden units: a frozen random ``W1`` keeps only 8 random directions of the
    input, so the hidden layer must learn the teacher's. The hidden error is sent back
    through ``W2ᵀ`` (backprop) or the fixed ``feedback`` matrix (feedback alignment);
    ``freeze`` trains the read-out only (the baseline). Returns the test loss before and
    after."""
    batch = 32
    teacher = torch.randn(OUTPUTS, INPUTS, generator=generator, dtype=FLOAT) / INPUTS**0.5
    w1 = torch.randn(HIDDEN, INPUTS, generator=generator, dtype=FLOAT) / INPUTS**0.5
    w2 = torch.randn(OUTPUTS, HIDDEN, generator=generator, dtype=FLOAT) * 0.1
    test = torch.randn(1000, INPUTS, generator=generator, dtype=FLOAT)
    data = torch.randn(steps, batch, INPUTS, generator=generator, dtype=FLOAT)

    def loss() -> float:
        predicted = torch.tanh(test @ w1.T) @ w2.T
        return 0.5 * ((predicted - test @ teacher.T) ** 2).sum(-1).mean().item()

    initial = loss()
    for x in data:
        h = torch.tanh(x @ w1.T)
        error = h @ w2.T - x @ teacher.T
        back = w2 if feedback is None else feedback  # the transpose, or a fixed random matrix
        delta = (error @ back) * (1 - h**2)
        w2 = w2 - lr * error.T @ h / batch
        if not freeze:
            w1 = w1 - lr * delta.T @ x / batch
    return initial, loss()


@s2_backprop.caveat(
    "Learning does not need the exact transpose: feedback alignment learns comparably",
    id="S2.feedback_alignment",
    identity=True,
    precise="A two-layer tanh network (20 inputs, 8 hidden units) trained on a rank-5 linear "
    "teacher with a fixed random matrix B in place of W2ᵀ (feedback alignment) ends with a "
    "test loss under a tenth of the frozen-hidden-layer baseline's (so its hidden layer "
    "learned) and within twice backprop's; 'necessarily' holds for the exact gradient only.",
    sources=("Lillicrap, Cownden, Tweed, Akerman, Nat. Commun. 2016",),
)
def s2_feedback_alignment(check: Check) -> None:
    seed = check.seed
    feedback = feedback_matrix(torch.Generator().manual_seed(seed + 7))
    start, backprop = train_two_layer(None, torch.Generator().manual_seed(seed))
    _, aligned = train_two_layer(feedback, torch.Generator().manual_seed(seed))
    _, frozen = train_two_layer(None, torch.Generator().manual_seed(seed), freeze=True)
    check.measure("test loss before training", start, tolerance=None)
    check.measure("backprop: test loss after / before", backprop / start, tolerance=None)
    check.measure("frozen hidden layer (read-out only): test loss after / before",
                  frozen / start, tolerance=None)  # fmt: skip
    check.measure("feedback alignment: test loss after / before", aligned / start, tolerance=None)
    check.measure(
        "feedback alignment over the frozen-hidden-layer baseline: final test loss",
        aligned / frozen, tolerance=0.1,
        note="decides: the hidden layer learned through B (≤ 0.1; 1 when B sends nothing back)",
    )  # fmt: skip
    check.measure(
        "feedback alignment over backprop: final test loss", aligned / backprop, expected=1.0,
        tolerance=1.0, decides=True, note="decides: comparably, within twice backprop's loss",
    )  # fmt: skip
