"""Escaping in the report page, against :class:`html.parser.HTMLParser` as the oracle:
every string from user code (names, source lines, config values, the script's JSON)
parsed back from the page reads as it was given, with no tag or attribute of its own,
and identifiers break only where their separators allow (``<wbr>`` after each).

Each piece is rendered from a small hand-made document: no model is traced, so these
tests run in milliseconds."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
import torch

from analyzer.render.dot import CLASS_COLOURS
from analyzer.render.html import _header, _safe_json, _verdict, html_page, index_page
from analyzer.render.sections import (
    _chip,
    _ident,
    _paths_html,
    _sites_section,
    _snippet,
    _source_cell,
    class_chip,
)
from analyzer.render.wording import PIECEWISE

HOSTILE = "a.b_c/d(e,f) <script>alert(\"x\" & 'y')</script>"
"""Markup, both quotes, an ampersand, and every separator ``_ident`` and ``_snippet`` use."""


class Events(HTMLParser):
    """The page as the browser reads it: start tags with their attributes, end tags, text
    (character references already turned back into characters)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.events: list[tuple[Any, ...]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.events.append(("data", data))

    @property
    def text(self) -> str:
        return "".join(e[1] for e in self.events if e[0] == "data")

    @property
    def tags(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "start"]

    def attributes(self, tag: str) -> list[dict[str, str | None]]:
        return [e[2] for e in self.events if e[0] == "start" and e[1] == tag]

    def text_in(self, tag: str, **attributes: str) -> list[str]:
        """The text inside each ``tag`` element whose attributes include ``attributes``."""
        found, depth, current = [], 0, []
        for event in self.events:
            if depth:
                if event[0] == "data":
                    current.append(event[1])
                elif event[0] == "start" and event[1] == tag:
                    depth += 1
                elif event[0] == "end" and event[1] == tag:
                    depth -= 1
                    if not depth:
                        found.append("".join(current))
            elif event[0] == "start" and event[1] == tag:
                if all(event[2].get(k) == v for k, v in attributes.items()):
                    depth, current = 1, []
        return found


def breaks_after(markup: str) -> list[str]:
    """The character just before each ``<wbr>`` in the text, in order."""
    marks, text = [], ""
    for event in Events(markup).events:
        if event[0] == "data":
            text += event[1]
        elif event[0] == "start" and event[1] == "wbr":
            marks.append(text[-1:])
    return marks


def test_a_chip_shows_its_text_and_only_its_colour() -> None:
    page = Events(_chip(HOSTILE, "#abcdef"))
    assert page.tags == ["span"] and page.text == HOSTILE
    assert page.attributes("span") == [{"class": "chip", "style": "background:#abcdef"}]
    assert Events(class_chip("matmul")).attributes("span")[0]["style"] == (
        f"background:{CLASS_COLOURS['matmul']}"
    )
    assert Events(class_chip("no such class")).attributes("span")[0]["style"] == (
        "background:#ffffff"
    )


@pytest.mark.parametrize(("render", "separators"), [(_ident, "._/"), (_snippet, "._(,")])
def test_code_breaks_only_after_its_separators(render, separators: str) -> None:
    markup = render(HOSTILE)
    page = Events(markup)
    assert page.text == HOSTILE
    assert set(page.tags) == {"code", "wbr"} and page.tags[0] == "code"
    expected = [c for c in HOSTILE if c in separators]
    assert breaks_after(markup) == expected
    assert page.attributes("code") == [{"class": "snippet"} if render is _snippet else {}]


def test_a_source_cell_keeps_the_whole_line_in_its_title() -> None:
    source = "/home/me/work/deep/models/net.py:9: y = f(\"<b>\", 'q') & x"
    page = Events(_source_cell(source))
    (cell,) = page.attributes("td")
    assert cell == {"title": source}
    assert page.text == "…/deep/models/net.py:9" + "y = f(\"<b>\", 'q') & x"
    assert page.tags.count("br") == 1 and page.tags.count("code") == 2
    assert _source_cell("") == "<td></td>"
    no_code = Events(_source_cell("<built-in>"))
    assert no_code.text == "<built-in>" and "br" not in no_code.tags
    assert no_code.attributes("td") == [{"title": "<built-in>"}]


def test_witness_paths_read_back_operand_by_operand() -> None:
    long = [f"n{i}<&>" for i in range(10)]
    markup = _paths_html([long, ["x", '"y"']], ["<a>", "b&'"])
    page = Events(markup)
    assert page.text_in("b") == ["<a>", "b&'"]
    paths = page.text_in("span", **{"class": "path"})
    assert paths == [
        "<a>: n0<&> → n1<&> → … 4 more … → n6<&> → n7<&> → n8<&> → n9<&>",
        'b&\': x → "y"',
    ]
    assert page.text_in("span", **{"class": "more"}) == ["… 4 more …"]
    assert Events(_paths_html([["x"]], ["a", "b"])).text_in("b") == ["a"]  # one path: one row


def test_the_script_data_is_json_without_markup_characters() -> None:
    value = {"z": "</script><!-- & -->", "a": [1, 2]}
    text = _safe_json(value)
    assert not {"<", ">", "&"} & set(text)
    assert json.loads(text) == value
    assert text.startswith('{"a":[1,2],"z":')  # sorted keys, no spaces: a stable page


def _document(**changes: Any) -> dict[str, Any]:
    document = {
        "model": "<m>", "frontend": "<f>", "mode": "e&val", "graph": {"nodes": 1234, "edges": 5},
        "metadata": {"config": {"k": "<v>"}, "parameters": 4321,
                     "inputs": [{"name": "<x>", "dtype": "float32", "shape": [2, 3]}]},
        "circuit_class": ["matmul", "<c>"], "degree": "<2>", "piecewise": True,
        "piecewise_affine": False, "degree_reasons": {"infinite": ["<t> (aten.tanh)"]},
        "input_products": [{"kind": "gating"}, {"kind": "contraction"}, {"kind": "gating"}],
        "dynamic_transposes": [{"feeds_contraction": True}, {"feeds_contraction": False}],
    }  # fmt: skip
    document.update(changes)
    return document


def test_the_header_reads_back_model_overrides_and_facts() -> None:
    page = Events(_header(_document()))
    assert page.text_in("h1") == ["<m> k=<v>"]
    assert page.text_in("span", **{"class": "overrides"}) == ["k=<v>"]
    assert page.text_in("div", **{"class": "meta"}) == [
        "frontend <f> · mode e&val · 1,234 nodes · 5 edges · 4,321 parameters · "
        "inputs <x> float32[2, 3]"
    ]
    no_metadata = _document()
    del no_metadata["metadata"]
    bare = Events(_header(no_metadata))
    assert bare.text_in("h1") == ["<m>"] and "span" not in bare.tags
    assert bare.text_in("div") == ["frontend <f> · mode e&val · 1,234 nodes · 5 edges"]


def test_the_verdict_reads_back_degree_sites_and_transposes() -> None:
    page = Events(_verdict(_document()))
    assert page.attributes("div")[0] == {"class": "verdict"}
    assert page.text_in("span", **{"class": "big"}) == ["<2> (piecewise)", "no", "3", "1"]
    assert page.text_in("span", **{"class": "chip"}) == ["matmul", "<c>"]
    assert page.text_in("span", **{"class": "note"}) == [
        PIECEWISE, "not a polynomial from <t> (aten.tanh)", "1 contraction, 2 gating",
        "feeding a contraction, of 2",
    ]  # fmt: skip
    assert page.text == (
        "primitive setmatmul<c>degree<2> (piecewise)" + PIECEWISE
        + "not a polynomial from <t> (aten.tanh)piecewise affinenoinput-by-input sites3"
        "1 contraction, 2 gatingdynamic transposes1feeding a contraction, of 2"
    )  # fmt: skip
    plain = _document(piecewise=False, piecewise_affine=True, degree_reasons={},
                      input_products=[], dynamic_transposes=[], circuit_class=[])  # fmt: skip
    page = Events(_verdict(plain))
    assert page.text_in("span", **{"class": "note"}) == []
    assert page.text == (
        "primitive set(none)degree<2>piecewise affineyesinput-by-input sites0dynamic transposes0"
    )


def test_the_index_reads_back_names_links_and_warnings() -> None:
    rows = [
        {"name": "<n>", "href": 'a"b.html', "circuit_class": ["<c>"], "degree": "<d>",
         "sites": {"gating": 2}, "differs": "doc's \"3\""},
        {"name": "plain", "href": "p.html", "circuit_class": [], "degree": "1", "sites": {}},
    ]  # fmt: skip
    page = Events(index_page(rows, title="<zoo> & co"))
    assert page.text_in("title") == ["<zoo> & co"] and page.text_in("h1") == ["<zoo> & co"]
    assert [a["href"] for a in page.attributes("a")] == ['a"b.html', "p.html"]
    assert page.text_in("a") == ["<n>", "plain"]
    assert [s["title"] for s in page.attributes("span") if s.get("class") == "warn"] == [
        'doc\'s "3"'
    ]
    numbers = page.text_in("td", **{"class": "num"})
    assert numbers == ["0", "2", "0", "0", "0", "0"]  # contraction, gating, normalization
    assert page.text_in("span", **{"class": "chip"}) == ["<c>"]
    assert "<d>" in page.text_in("td")


def test_the_page_title_reads_back_the_model_and_its_overrides() -> None:
    from analyzer.analysis import analyze

    class Square(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * x

    result = analyze(Square(), (torch.randn(2),), model='<m "q">')
    result.traced.metadata["config"] = {"k": "<v>&"}
    page = Events(html_page(result, extra="<section id='cost'>formulas</section>"))
    assert page.text_in("section", id="cost") == ["formulas"]  # the cost report's section
    assert page.text_in("title") == ['analyzer: <m "q"> (k=<v>&)']
    assert page.text_in("h1") == ['<m "q"> k=<v>&']
    assert "script" not in page.tags  # no graph drawn: no script either


def _site(module: str, op: str, kind: str, part: str | None = None, source: str = "") -> dict:
    return {"node": f"n_{module}_{part}", "op": op, "kind": kind, "part": part,
            "module": module, "source": source, "paths": [["x"]], "operands": ["x"]}  # fmt: skip


def test_the_sites_section_folds_and_names_each_block() -> None:
    """Three instances of ``layers`` with one fused attention each (two parts, one source
    line): ``2 contraction sites each (scores, mix) · op at place``; two of ``blocks``
    with three sites between them: ``in all``, no op named; one plain module."""
    source = "/home/me/work/deep/models/net.py:9: y = f('<q>') & x"
    sites = [
        _site(f"layers.{i}", "aten.sdpa", "contraction", part, source)
        for i in range(3) for part in ("scores", "mix")
    ] + [
        _site("blocks.0", "aten.mul", "gating"), _site("blocks.0", "aten.mul", "gating"),
        _site("blocks.1", "aten.bmm", "gating"), _site("blocks.1", "aten.bmm", "contraction"),
        _site("head", "aten.mul", "gating"),
    ]  # fmt: skip
    containers = {"layers": [0, 1, 2], "blocks": [0, 1]}
    page = Events(_sites_section({"input_products": sites}, containers))
    summaries = page.text_in("summary")
    assert summaries == [
        "layers.{0…2} ×3: 2 contraction sites each (scores, mix) · aten.sdpa at "
        "…/deep/models/net.py:9 (show the 6 rows)",
        "blocks.{0…1} ×2: 1 contraction site, 3 gating sites in all (show the 4 rows)",
    ]
    titles = [a["title"] for a in page.attributes("span") if "title" in a]
    assert titles == [source]
    assert page.text_in("h2") == ["Input-by-input sites (11)"]
    assert "; click a row to light up" in page.text_in("p", **{"class": "meta"})[0]
    assert (
        len(page.attributes("tr")) == 3 + 11
    )  # a head per table (two folds, head), a row per site
    quiet = Events(_sites_section({"input_products": sites}, containers, interactive=False))
    assert "click" not in quiet.text_in("p", **{"class": "meta"})[0]


def test_a_fold_of_one_site_each_and_of_sites_without_a_source() -> None:
    sites = [_site(f"layers.{i}", "aten.mul", "gating") for i in range(2)]
    del sites[0]["source"], sites[1]["source"]  # a trace without source lines
    page = Events(_sites_section({"input_products": sites}, {"layers": [0, 1]}))
    assert page.text_in("summary") == ["layers.{0…1} ×2: 1 gating site each · aten.mul (show "
                                       "the 2 rows)"]  # fmt: skip
    assert "span" not in [e[1] for e in page.events if e[0] == "start" and e[2].get("title")]


def test_no_sites_says_so() -> None:
    page = Events(_sites_section({"input_products": []}, {}))
    assert page.text == (
        "Input-by-input sites (0)None: every product in this model has a fixed operand."
    )
