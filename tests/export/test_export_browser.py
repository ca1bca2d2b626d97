"""The HTML export in a real headless Chromium (skipped when none is installed): the page
draws every node, a mouse click on a box shows that node's details (op, name,
QuantParams.describe of its tensors, numpy's weight statistics, its marks), search
finds what the IR holds, parts of a big graph are reached through search and keys,
and the page makes no request but for its own file (the DevTools network log)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.export import formats
from modelkit.export.document import Document
from modelkit.export.marks import Marks, check_marks

from .browser import Browser, find_chromium

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
sys.path.insert(0, str(ROOT / "tests" / "tui"))

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium or chrome installed")


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


def _page(tmp_path, model, marks=None, name="m.html") -> Path:
    out = tmp_path / name
    out.write_text(formats.render(Document.build(model, marks or Marks()), "html", out)[0][1])
    return out


def _click(browser: Browser, selector: str) -> None:
    """A real left click (DevTools Input events) at the middle of the element's box."""
    x, y = browser.eval(f"""(() => {{ const r = document.querySelector('{selector}')
        .querySelector('rect').getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
    for kind in ("mousePressed", "mouseReleased"):
        browser.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                     clickCount=1)


def _side(browser: Browser) -> str:
    return browser.eval("document.getElementById('mk-side').innerText")


def test_click_a_node_shows_its_details(tmp_path, browser):
    model = modelkit.load(SAMPLES / "digits_uint8_legacy.tflite")
    marks = check_marks(model, "micro")
    page = _page(tmp_path, model, marks)
    browser.events.clear()
    browser.open(page)
    assert browser.eval("document.body.dataset.ready") == "1"
    g = model.main
    drawn = browser.eval("""[...document.querySelectorAll('#mk-view [data-node]')]
        .map(e => [+e.dataset.node, e.dataset.op])""")
    assert sorted(map(tuple, drawn)) == [(i, n.op) for i, n in enumerate(g.nodes)]
    conv = next(i for i, n in enumerate(g.nodes) if n.op == "CONV_2D")
    _click(browser, f'#mk-view [data-node="{conv}"]')
    assert browser.eval("document.body.dataset.selected") == str(conv)
    assert browser.eval("document.querySelector('#mk-view .sel').dataset.node") == str(conv)
    text = _side(browser)
    node = g.nodes[conv]
    assert text.startswith("CONV_2D\n" + node.name)
    rows = browser.eval("""[...document.querySelectorAll('#mk-side tr.tensor')]
        .map(tr => [tr.querySelector('.mono').textContent,
                    (tr.querySelector('.quant') || {innerText: ''}).innerText,
                    (tr.querySelector('.stats') || {innerText: ''}).innerText])""")
    tensors = [v for v in (*node.inputs, *node.outputs) if v is not None]
    assert [r[0] for r in rows] == [v.name for v in tensors]
    for v, (_, quant, stats) in zip(tensors, rows):
        assert quant.splitlines() == v.quant.describe().splitlines()
        if v.data is None:
            assert stats == ""
            continue
        a = v.data.numpy().astype(np.float64)
        m = re.match(r"min (\S+), max (\S+), mean (\S+), std (\S+) \(([\d,]+) values\)", stats)
        got = [float(x.replace(",", "")) for x in m.groups()[:4]]
        assert got == pytest.approx([a.min(), a.max(), a.mean(), a.std()], rel=1e-5)
        assert int(m.group(5).replace(",", "")) == a.size
    for m in marks.of(0, conv):
        assert m.short in text
    assert browser.requests() == [page.resolve().as_uri()]


def test_search_finds_nodes_by_op_name_and_dtype(tmp_path, browser):
    model = modelkit.load(SAMPLES / "digits_int8.tflite")
    page = _page(tmp_path, model)
    browser.open(page)
    g = model.main
    for query in ("CONV_2D", "flatten", "int32"):
        want = [i for i, n in enumerate(g.nodes)
                if query.lower() in "\n".join([n.name, n.op] + [v.type_str() for v in
                                                                 n.outputs]).lower()]
        got = browser.eval(f"""new Promise(r => {{
            const s = document.getElementById('mk-search'); s.value = {query!r};
            s.dispatchEvent(new Event('input'));
            setTimeout(() => r([...document.querySelectorAll('#mk-results [data-go]')]
                .map(e => +e.dataset.go)), 400); }})""")
        assert got == want and want


def test_a_big_graph_in_parts_reaches_every_node(tmp_path, browser, monkeypatch):
    from synth_models import chain_model

    import modelkit.layout.parts as parts

    monkeypatch.setattr(parts, "WHOLE_LIMIT", 60)
    monkeypatch.setattr(parts, "PART_SIZE", 40)
    model = chain_model(150)
    page = _page(tmp_path, model)
    browser.events.clear()
    browser.open(page)
    assert browser.eval("document.getElementById('mk-part').textContent") == "part 1 of 4"
    seen = set()
    for p in range(4):
        seen |= set(browser.eval(f"""(() => {{ modelkitExport.showPart(0, {p});
            return [...document.querySelectorAll('#mk-view [data-node]')]
                .map(e => +e.dataset.node); }})()"""))
    assert seen == set(range(150))
    # Search finds a node of the last part; choosing it shows that part with it selected.
    last = model.main.nodes[140].name
    browser.eval(f"""(() => {{ modelkitExport.showPart(0, 0);
        const s = document.getElementById('mk-search'); s.value = {last!r};
        s.dispatchEvent(new Event('input')); }})()""")
    browser.eval("new Promise(r => setTimeout(r, 300))")
    browser.eval("document.querySelector('#mk-results [data-go]').click()")
    assert browser.eval("document.getElementById('mk-part').textContent") == "part 4 of 4"
    assert browser.eval("document.querySelector('#mk-view .sel').dataset.node") == "140"
    # `]` steps to the next node in execution order, `PageUp` to the previous part.
    browser.send("Input.dispatchKeyEvent", type="keyDown", key="]", text="]")
    assert browser.eval("document.body.dataset.selected") == "141"
    browser.send("Input.dispatchKeyEvent", type="rawKeyDown", key="PageUp",
                 windowsVirtualKeyCode=33)
    assert browser.eval("document.getElementById('mk-part').textContent") == "part 3 of 4"
    assert browser.requests() == [page.resolve().as_uri()]


def test_a_1000_op_model_draws_every_node_at_once(tmp_path, browser):
    from synth_models import chain_model

    model = chain_model(1000)
    page = _page(tmp_path, model)
    browser.open(page)
    count = browser.eval("document.querySelectorAll('#mk-view [data-node]').length")
    assert count == 1000


def test_the_graph_selector_shows_each_graph(tmp_path, browser):
    path = SAMPLES / "control_flow.tflite"
    if not path.exists():
        pytest.skip("no control_flow sample")
    model = modelkit.load(path)
    page = _page(tmp_path, model)
    browser.open(page)
    for gi, g in enumerate(model.graphs):
        drawn = browser.eval(f"""(() => {{ const s = document.getElementById('mk-graph');
            s.value = '{gi}'; s.dispatchEvent(new Event('change'));
            return [...document.querySelectorAll('#mk-view [data-node]')]
                .map(e => [+e.dataset.node, e.dataset.op]); }})()""")
        assert sorted(map(tuple, drawn)) == sorted((i, n.op) for i, n in enumerate(g.nodes))


def test_dragging_pans_and_selects_nothing_wheel_zooms(tmp_path, browser):
    model = modelkit.load(SAMPLES / "digits_int8.tflite")
    page = _page(tmp_path, model)
    browser.open(page)
    x, y = browser.eval("""(() => {
        const r = document.querySelector('#mk-view [data-node="2"] rect').getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; })()""")
    before = browser.eval("document.querySelector('#mk-view svg').style.transform")
    browser.send("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left",
                 clickCount=1)
    for step in range(1, 6):
        browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=x + 12 * step,
                     y=y + 5 * step, button="left", buttons=1)
    browser.send("Input.dispatchMouseEvent", type="mouseReleased", x=x + 60, y=y + 25,
                 button="left", clickCount=1)
    state = browser.eval("[modelkitExport.state.x, modelkitExport.state.y, "
                         "document.body.dataset.selected]")
    after = browser.eval("document.querySelector('#mk-view svg').style.transform")
    assert after != before and state[2] is None
    # The wheel zooms about the pointer: the point under it stays put.
    k0 = browser.eval("modelkitExport.state.k")
    browser.send("Input.dispatchMouseEvent", type="mouseWheel", x=x, y=y, deltaX=0,
                 deltaY=-240)
    s = browser.eval("[modelkitExport.state.k, modelkitExport.state.x, modelkitExport.state.y,"
                     " document.getElementById('mk-view').getBoundingClientRect().left,"
                     " document.getElementById('mk-view').getBoundingClientRect().top]")
    assert s[0] > k0
    vx, vy = x - s[3], y - s[4]
    before_pt = ((vx - state[0]) / k0, (vy - state[1]) / k0)
    after_pt = ((vx - s[1]) / s[0], (vy - s[2]) / s[0])
    assert after_pt == pytest.approx(before_pt, abs=1e-6)
