"""`modelkit browse A --diff B`: marks, the jump keys, both sides in the details.

Oracle: the change list of `modelkit.diff.diff_models(B, A)` (checked against planted
edits by tests/diff), laid on A's nodes here by hand: a node change on its node, a
tensor change on the node that writes the tensor or, for a tensor nobody writes,
on every node that reads it. For the planted weight edit, numpy on the two arrays
read back from the files.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pilot_helpers import details_title, plain, settle, static_text
from textual import events

import modelkit
from modelkit.diff import diff_models
from tests.diff import planting
from tui.app import ModelBrowser
from tui.model_index import NODE, Target
from tui.overlays import DiffOverlay
from tui.screens.changes import ChangesScreen
from tui.screens.help import HelpScreen
from tui.widgets.graph_pane import GraphPane
from tui.widgets.graph_view import GraphView

ROOT = Path(__file__).resolve().parents[2]
FLOAT = ROOT / "samples" / "digits_float.tflite"
INT8 = ROOT / "samples" / "digits_int8.tflite"
SIZES = [(120, 36), (40, 12)]


def expected_marks(a_path, b_path) -> tuple[dict[tuple[int, int], str], list]:
    """{(graph, node position of A): "added"/"changed"} and the node changes only B has,
    from the change list of B -> A."""
    a, b = modelkit.load(a_path), modelkit.load(b_path)
    d = diff_models(b, a)
    marks: dict[tuple[int, int], str] = {}
    removed = []
    for c in d.changes:
        if c.what == "node" and c.kind == "removed":
            removed.append(c)
        elif c.what == "node":
            g = a.graphs[c.b.graph]
            ni = next(i for i, n in enumerate(g.nodes) if n.index == c.b.index)
            if c.kind == "added" or marks.get((c.b.graph, ni)) != "added":
                marks[(c.b.graph, ni)] = c.kind
        elif c.what == "tensor" and c.b is not None:
            g = a.graphs[c.b.graph]
            v = next(v for v in g.values if v.index == c.b.index)
            nodes = [v.producer] if v.producer is not None else [n for n, _ in v.consumers]
            for n in nodes:
                marks.setdefault((c.b.graph, g.nodes.index(n)), "changed")
    return marks, removed


def change_texts(a_path, b_path, graph: int, node: int) -> list[str]:
    """The `old -> new` texts the details must show for a node: each field of each change
    on it, B's value then A's, read from the change list's details."""
    a, b = modelkit.load(a_path), modelkit.load(b_path)
    d = diff_models(b, a)
    n = a.graphs[graph].nodes[node]
    mine = {id(v) for v in n.outputs} | {id(v) for v in n.inputs if v is not None
                                         and v.producer is None}
    out = []
    for c in d.changes:
        if c.b is None or c.b.graph != graph:
            continue
        if c.what == "node" and c.b.index == n.index:
            # B's side of the node: where it is there, its op and name.
            if c.a is not None:
                out.append(f"node {c.a.graph}:{c.a.index} {c.a.op} {c.a.name}")
        elif c.what == "tensor" and id(next(v for v in a.graphs[graph].values
                                            if v.index == c.b.index)) in mine:
            pass
        else:
            continue
        for f in c.fields:
            x, y = c.details[f].get("a"), c.details[f].get("b")
            if f in ("version", "name") or f.startswith("attrs."):
                out.append(f"{x} -> {y}")
            elif f == "dtype" and isinstance(x, list):
                out.append(f"{','.join(x)} -> {','.join(y)}")
            elif f == "dtype":
                out.append(f"{x} -> {y}")
            elif f == "quantization":
                old = x["describe"][0] if x else "none"
                out.append(old)
                if y is None:
                    out.append("-> none")
    return out


def browser(a_path, b_path) -> ModelBrowser:
    a = modelkit.load(a_path)
    return ModelBrowser(a, cursor_blink=False, run_check=False,
                        diff=DiffOverlay.compute(a, modelkit.load(b_path)))


def row_marks(app) -> dict[tuple[int, int], str]:
    """The symbol in front of each node row of the list."""
    pane = app.screen.query_one(GraphPane)
    rows = app.index.graph_rows
    out = {}
    for i in range(len(rows)):
        t = rows[i].target
        if t is not None and t.kind == NODE:
            out[(t.graph, t.index)] = plain(pane._content(i))[:1]
    return out


def details_text(app) -> str:
    return static_text(app, "#details-facts")


def next_after(marked: list, cur: tuple[int, int]) -> tuple[int, int]:
    return next((t for t in marked if t > cur), marked[0])


def current_key(app) -> tuple[int, int]:
    cur = app.screen.current
    assert cur is not None and cur.kind == NODE
    return (cur.graph, cur.index)


SYMBOL = {"added": "✚", "changed": "✎"}


async def check_marks_keys_details(app, pilot, a_path, b_path, want: dict) -> None:
    await settle(pilot)
    # The list: a symbol before every node the change list lands on, a blank before others.
    assert row_marks(app) == {k: SYMBOL.get(want.get(k), " ") for k in row_marks(app)}
    legend = static_text(app, "#diff-legend")
    added = sum(1 for k in want.values() if k == "added")
    assert f"✚ {added} added" in legend and f"✎ {len(want) - added} changed" in legend
    # The jump key visits the marked nodes in order, wrapping; the details show the
    # change list's old -> new values and B's side.
    marked = sorted(want)
    visited = []
    for _ in range(len(marked) + 1):
        before = current_key(app)
        await pilot.press("d")
        await settle(pilot)
        key = current_key(app)
        assert key == next_after(marked, before)
        visited.append(key)
        facts = details_text(app)
        assert f"{SYMBOL[want[key]]} diff" in facts
        for text in change_texts(a_path, b_path, *key):
            assert text in facts, (key, text, facts)
    assert set(visited) == set(marked)
    await pilot.press("D")
    await settle(pilot)
    assert current_key(app) == visited[-2]
    # The graph view: every drawn box of a marked node carries its mark, and no other.
    await pilot.press("g")
    await settle(pilot)
    view = app.screen.query_one(GraphView)
    st = view.drawing.structure
    drawn = 0
    for vid in view.drawing.boxes:
        kind, ni, _ = st.kinds[vid]
        if kind != "node":
            continue
        deco = view._decorations.get(vid)
        tag = deco.tag if deco is not None else ""
        k = want.get((view.graph, ni))
        assert tag == (f"{SYMBOL[k]} {k}" if k else ""), (ni, tag)
        drawn += bool(k)
    assert drawn >= 1
    await pilot.press("d")
    await settle(pilot)
    assert view.target == app.screen.current


@pytest.mark.parametrize("size", SIZES)
async def test_float_against_int8(size):
    want, removed = expected_marks(FLOAT, INT8)
    assert want and not removed and all(k == "changed" for k in want.values())
    app = browser(FLOAT, INT8)
    async with app.run_test(size=size) as pilot:
        await check_marks_keys_details(app, pilot, FLOAT, INT8, want)


@pytest.fixture(scope="module")
def weight_edit(tmp_path_factory):
    """digits_float with one filter element of the second CONV_2D moved by 0.125."""
    model = modelkit.load(FLOAT)
    planting.tflite_weight_element(model)
    out = tmp_path_factory.mktemp("edit") / "edited.tflite"
    modelkit.save(model, out)
    return out


@pytest.mark.parametrize("size", SIZES)
async def test_planted_weight_edit(weight_edit, size):
    want, _ = expected_marks(weight_edit, FLOAT)
    a, b = modelkit.load(weight_edit), modelkit.load(FLOAT)
    conv1 = [i for i, n in enumerate(a.main.nodes) if n.op == "CONV_2D"][1]
    assert want == {(0, conv1): "changed"}
    w_a = a.main.nodes[conv1].inputs[1].data.numpy()
    w_b = next(v for v in b.main.values if v.name == a.main.nodes[conv1].inputs[1].name)
    w_b = w_b.data.numpy()
    differ = int(np.count_nonzero(w_a != w_b))
    app = browser(weight_edit, FLOAT)
    async with app.run_test(size=size) as pilot:
        await check_marks_keys_details(app, pilot, weight_edit, FLOAT, want)
        await pilot.press("g", "d")
        await settle(pilot)
        facts = details_text(app)
        assert f"{differ} of {w_a.size} elements differ" in facts
        assert f"max abs {float(np.max(np.abs(w_a - w_b))):.6g}" in facts


async def test_removed_nodes_are_listed_and_a_burst_of_jumps_stays_responsive(tmp_path):
    model = modelkit.load(INT8)
    planting.tflite_remove_softmax(model)
    edited = tmp_path / "edited.tflite"
    modelkit.save(model, edited)
    want, removed = expected_marks(edited, INT8)
    softmax = next(n for n in modelkit.load(INT8).main.nodes if n.op == "SOFTMAX")
    assert [c.a.name for c in removed] == [softmax.name]
    app = browser(edited, INT8)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "⊖ 1 removed" in static_text(app, "#diff-legend")
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ChangesScreen)
        ol = app.screen.query_one("#changes-list")
        texts = [plain(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]
        group = texts.index("removed in B: only in digits_int8.tflite (1)")
        assert texts[group + 1:] == [f"⊖ removed #{softmax.index} SOFTMAX  {softmax.name}"]
        assert len(texts[:group]) == len(want)
        # Enter on a removed node stays (it is not in this model); on a marked one jumps.
        ol.highlighted = group + 1
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChangesScreen)
        if want:
            ol.highlighted = 0
            await pilot.press("enter")
            await settle(pilot)
            assert not isinstance(app.screen, ChangesScreen)
            assert current_key(app) == sorted(want)[0]
        else:
            await pilot.press("escape")
            await settle(pilot)
        # The help screen names the keys.
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        help_text = static_text(app, "#help-text")
        assert "Next change (--diff)" in help_text and "Changes (--diff)" in help_text
        await pilot.press("escape")
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
async def test_burst_of_jump_keys_then_q_quits(size):
    want, _ = expected_marks(FLOAT, INT8)
    marked = sorted(want)
    app = browser(FLOAT, INT8)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        cur = current_key(app)
        for _ in range(20):
            cur = next_after(marked, cur)
            event = events.Key("d", "d")
            event.set_sender(app)
            app._driver.send_message(event)
        for _ in range(10):
            await asyncio.wait_for(pilot.pause(), timeout=5)
            pumps = [app, *app.screen.walk_children(with_self=True)]
            if all(p._message_queue.empty() for p in pumps):
                break
        else:
            raise AssertionError("the app was still busy after 20 x d")
        await settle(pilot)
        assert current_key(app) == cur
        node = app.index.model.graphs[cur[0]].nodes[cur[1]]
        assert details_title(app) == f"node #{node.index}  {node.op}"
        await pilot.press("q")
        await asyncio.wait_for(app._shutdown(), timeout=10)
        assert app.return_code == 0 and app.crash is None


async def test_nothing_matched_is_a_note_and_every_node_is_added():
    other = ROOT / "tests" / "data" / "custom_ops.tflite"
    d = diff_models(modelkit.load(other), modelkit.load(FLOAT))
    (note,) = d.notes
    assert "nothing matched" in note
    app = browser(FLOAT, other)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        marks = row_marks(app)
        assert len(marks) == len(app.index.model.main.nodes)
        assert set(marks.values()) == {"✚"}
        assert f"✚ {len(marks)} added" in static_text(app, "#diff-legend")
        assert [n.message for n in app._notifications] == [note]


def test_unreadable_other_model_exits_3_naming_it(tmp_path):
    bad = tmp_path / "other.tflite"
    bad.write_bytes(INT8.read_bytes()[:100])
    env = {**os.environ, "TERM": "xterm-256color"}
    r = subprocess.run([str(Path(sys.executable).with_name("modelkit")), "browse", str(FLOAT),
                        "--diff", str(bad)], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env=env)
    assert r.returncode == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"modelkit: error: {bad}: ")
    assert r.stdout == "" and "\x1b[" not in r.stderr
