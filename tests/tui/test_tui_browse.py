"""Driving the browser with Pilot on the committed int8 sample; the interpreter is the oracle."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pilot_helpers import (details_facts, details_links, details_title, load_browser,
                           option_texts, settle, static_text, summary_view_text)
from textual.widgets import Collapsible, DataTable

SIZE = (120, 36)
SCALE_ZP = re.compile(r"<= (?P<scale>[0-9.e+-]+) \* (?:q|\(q (?P<sign>[+-]) (?P<zp>\d+)\))")


def parse_affine(text: str) -> tuple[float, int]:
    """(scale, zero point) out of `lo <= s * (q + z) <= hi`."""
    m = SCALE_ZP.search(text)
    assert m, text
    zp = 0
    if m["zp"]:
        # real = s * (q + z) means zero point -z.
        zp = -int(m["zp"]) if m["sign"] == "+" else int(m["zp"])
    return float(m["scale"]), zp


def producer_op(op_details, tensor: int) -> int | None:
    return next((o["index"] for o in op_details if tensor in o["outputs"]), None)


def consumer_ops(op_details, tensor: int) -> list[int]:
    return [o["index"] for o in op_details if tensor in o["inputs"]]


async def goto_node(pilot, op_index: int) -> None:
    """Highlight node `op_index` in the graph pane (by filtering on nothing, then moving)."""
    app = pilot.app
    ol = app.screen.query_one("#graph-list")
    ol.focus()
    texts = option_texts(app, "#graph-list")
    row = next(i for i, t in enumerate(texts) if re.match(rf"\s*{op_index}\s{{2}}", t))
    ol.highlighted = row
    await settle(pilot)


@pytest.mark.asyncio
async def test_first_screen_lists_ops_in_execution_order(sample_path, op_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = option_texts(app, "#graph-list")
        node_rows = [r for r in rows if re.match(r"\s*\d+\s\s", r)]
        assert [r.split()[1] for r in node_rows] == [o["op_name"] for o in op_details]
        assert rows[1].startswith("in  serving_default:input")
        assert "out serving_default:output_0" in rows[2]
        # The first op is selected and described at once.
        assert details_title(app).startswith("node #0")
        assert op_details[0]["op_name"] in details_title(app)


@pytest.mark.asyncio
async def test_node_input_producer_and_back(sample_path, op_details, tensor_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await goto_node(pilot, 1)
        op = op_details[1]
        assert details_title(app) == f"node #1  {op['op_name']}"
        assert details_facts(app)["location"] == 'op 1 of subgraph 0 "main"'
        assert details_facts(app)["fused_activation_function"] == "RELU"
        links = details_links(app)
        assert len(links) == len(op["inputs"]) + len(op["outputs"])
        # Open input 0: the tensor details must agree with the interpreter.
        await pilot.press("enter")  # from the graph list into the links
        await pilot.press("enter")  # follow the highlighted (first) link
        await settle(pilot)
        t = int(op["inputs"][0])
        facts = details_facts(app)
        assert facts["index"] == str(t)
        assert facts["name"] == tensor_details[t]["name"]
        assert facts["shape"] == "[" + ",".join(map(str, tensor_details[t]["shape"])) + "]"
        scale, zp = parse_affine(facts["quantization"])
        assert scale == pytest.approx(tensor_details[t]["quantization"][0], rel=1e-5)
        assert zp == tensor_details[t]["quantization"][1]
        # Jump to its producer, then back twice through the history.
        await pilot.press("p")
        await settle(pilot)
        assert details_title(app).startswith(f"node #{producer_op(op_details, t)}  ")
        await pilot.press("b")
        await settle(pilot)
        assert details_facts(app)["index"] == str(t)
        await pilot.press("backspace")
        await settle(pilot)
        assert details_title(app) == f"node #1  {op['op_name']}"


@pytest.mark.asyncio
async def test_every_input_line_shows_the_interpreters_quantization(sample_path, op_details,
                                                                    tensor_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        for op in op_details:
            await goto_node(pilot, op["index"])
            lines = details_links(app)
            tensors = [int(i) for i in op["inputs"]] + [int(o) for o in op["outputs"]]
            assert len(lines) == len(tensors)
            for pos, (line, t) in enumerate(zip(lines, tensors)):
                d = tensor_details[t]
                assert line.startswith("input " if pos < len(op["inputs"]) else "output ")
                assert line.endswith(d["name"])
                scales = d["quantization_parameters"]["scales"]
                if len(scales) == 1:
                    scale, zp = parse_affine(line)
                    assert scale == pytest.approx(d["quantization"][0], rel=1e-5)
                    assert zp == d["quantization"][1]
                elif len(scales) > 1:
                    axis = d["quantization_parameters"]["quantized_dimension"]
                    assert f"per-channel axis {axis}: {len(scales)} scales" in line
                    lo, hi = re.search(r"scales ([0-9.e+-]+)\.\.([0-9.e+-]+)", line).groups()
                    assert float(lo) == pytest.approx(scales.min(), rel=1e-3)
                    assert float(hi) == pytest.approx(scales.max(), rel=1e-3)
                else:
                    assert "<=" not in line and "per-channel" not in line


@pytest.mark.asyncio
async def test_per_channel_table_and_constant_values(sample_path, op_details, tensor_details,
                                                     interpreter):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        op = next(o for o in op_details if o["op_name"] == "CONV_2D")
        await goto_node(pilot, op["index"])
        w = int(op["inputs"][1])
        # Follow the weights link.
        await pilot.press("enter", "down", "enter")
        await settle(pilot)
        assert details_facts(app)["index"] == str(w)
        # Expand the per-channel table: one row per channel, the interpreter's scales.
        box = app.screen.query_one("#details-channels").query_one(Collapsible)
        assert box.collapsed
        box.query_one("CollapsibleTitle").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not box.collapsed
        table = box.query_one(DataTable)
        qp = tensor_details[w]["quantization_parameters"]
        assert table.row_count == len(qp["scales"])
        for i, (s, z) in enumerate(zip(qp["scales"], qp["zero_points"])):
            row = table.get_row_at(i)
            assert row[0] == i
            assert float(row[1]) == pytest.approx(float(s), rel=1e-7)
            assert row[2] == int(z)
        # Values: raw preview and stats of the dequantized weights.
        raw = interpreter.get_tensor(w)
        axis = qp["quantized_dimension"]
        shape = [1] * raw.ndim
        shape[axis] = -1
        real = (raw.astype(np.float64) - qp["zero_points"].reshape(shape)) * \
            qp["scales"].reshape(shape)
        values = static_text(app, "#details-values")
        first = values.split("raw", 1)[1].split()[:5]
        assert [int(x) for x in first] == raw.reshape(-1)[:5].tolist()
        stats = dict(re.findall(r"(min|max|mean|std) (-?[0-9.e+-]+)", values))
        assert float(stats["min"]) == pytest.approx(real.min(), rel=1e-3)
        assert float(stats["max"]) == pytest.approx(real.max(), rel=1e-3)
        assert float(stats["mean"]) == pytest.approx(real.mean(), rel=1e-3, abs=1e-6)
        assert float(stats["std"]) == pytest.approx(real.std(), rel=1e-3)
        counts = [int(line.split()[-1]) for line in values.splitlines() if " .. " in line]
        assert sum(counts) == raw.size
        # Per-channel scale range and the share of stored values at the int8 limits.
        lo, hi = re.search(rf"{len(qp['scales'])} channels on axis {axis}: "
                           r"([0-9.e+-]+) to ([0-9.e+-]+)", values).groups()
        assert float(lo) == pytest.approx(qp["scales"].min(), rel=1e-3)
        assert float(hi) == pytest.approx(qp["scales"].max(), rel=1e-3)
        at_lo, at_hi = re.search(r"at limits int8 -128: ([0-9,]+) .*127: ([0-9,]+)",
                                 values).groups()
        assert int(at_lo.replace(",", "")) == int(np.count_nonzero(raw == -128))
        assert int(at_hi.replace(",", "")) == int(np.count_nonzero(raw == 127))


@pytest.mark.asyncio
async def test_consumers_key(sample_path, op_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        # A tensor read by several ops: `c` lists them and Enter opens the first.
        t, consumers = next((int(t), consumer_ops(op_details, t)) for o in op_details
                            for t in o["outputs"] if len(consumer_ops(op_details, t)) > 1)
        producer = producer_op(op_details, t)
        await goto_node(pilot, producer)
        await pilot.press("c")
        await settle(pilot)
        assert details_facts(app)["index"] == str(t)
        consumer_lines = [line for line in details_links(app) if line.startswith("consumer")]
        assert [int(re.search(r"#(\d+)", line).group(1)) for line in consumer_lines] \
            == consumers
        await pilot.press("enter")
        await settle(pilot)
        assert details_title(app).startswith(f"node #{consumers[0]}  ")
        # A single consumer: `c` jumps straight there.
        await goto_node(pilot, 0)
        out = int(op_details[0]["outputs"][0])
        assert len(consumer_ops(op_details, out)) == 1
        await pilot.press("c")
        await settle(pilot)
        assert details_title(app).startswith(f"node #{consumer_ops(op_details, out)[0]}  ")


@pytest.mark.asyncio
async def test_search_op_type_and_jump(sample_path, op_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"fully_conn")
        await settle(pilot)
        results = option_texts(app, "#search-results")
        fc = [o["index"] for o in op_details if o["op_name"] == "FULLY_CONNECTED"]
        assert [int(re.search(r"#(\d+)", r).group(1)) for r in results
                if r.startswith("node")] == fc
        await pilot.press("down", "enter")
        await settle(pilot)
        assert details_title(app) == f"node #{fc[1]}  FULLY_CONNECTED"
        # The jump is in the history.
        await pilot.press("b")
        await settle(pilot)
        assert details_title(app).startswith("node #0  ")


@pytest.mark.asyncio
async def test_search_by_dtype_and_shape(sample_path, tensor_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"int32[")
        await settle(pilot)
        results = option_texts(app, "#search-results")
        int32 = sorted(i for i, d in tensor_details.items() if d["dtype"] == np.int32)
        assert sorted(int(re.search(r"#(\d+)", r).group(1)) for r in results) == int32
        await pilot.press(*["backspace"] * 6, *"16,3,3,8")
        await settle(pilot)
        results = option_texts(app, "#search-results")
        shaped = [i for i, d in tensor_details.items() if list(d["shape"]) == [16, 3, 3, 8]]
        assert [int(re.search(r"#(\d+)", r).group(1)) for r in results] == shaped
        await pilot.press("enter")
        await settle(pilot)
        assert details_facts(app)["index"] == str(shaped[0])


@pytest.mark.asyncio
async def test_filter_as_you_type(sample_path, op_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f", *"conv_2d")
        await settle(pilot)
        rows = option_texts(app, "#graph-list")
        conv = [o["index"] for o in op_details if o["op_name"] == "CONV_2D"]
        assert rows[0].startswith('subgraph 0 "main"')
        assert [int(r.split()[0]) for r in rows[1:]] == conv
        await pilot.press("enter", "down")
        await settle(pilot)
        assert details_title(app) == f"node #{conv[1]}  CONV_2D"


@pytest.mark.asyncio
async def test_tensors_view_sort_and_open(sample_path, tensor_details):
    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one("#tensors", DataTable)
        assert table.row_count == len(tensor_details)
        for i in range(table.row_count):
            row = table.get_row_at(i)
            assert row[0] == i and row[1] == tensor_details[i]["name"]
            assert row[2] == np.dtype(tensor_details[i]["dtype"]).name
        col = [c.key.value for c in table.ordered_columns].index("bytes")
        table.move_cursor(column=col)
        nbytes = {i: int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
                  for i, d in tensor_details.items()}
        await pilot.press("o")
        await settle(pilot)
        got = [table.get_row_at(i)[col] for i in range(table.row_count)]
        assert got == sorted(nbytes.values())
        await pilot.press("o")
        await settle(pilot)
        top = table.get_row_at(0)
        assert top[col] == max(nbytes.values())
        table.move_cursor(row=0, column=0)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "MainScreen"
        facts = details_facts(app)
        assert facts["index"] == str(top[0])
        assert facts["name"] == tensor_details[top[0]]["name"]
        assert facts["bytes"] == f"{nbytes[top[0]]:,}"


@pytest.mark.asyncio
async def test_summary_view_matches_summarize_command(sample_path):
    import subprocess
    import sys
    from pathlib import Path

    shown = await summary_view_text(sample_path, SIZE)
    modelkit = Path(sys.executable).with_name("modelkit")
    out = subprocess.run([str(modelkit), "summarize", str(sample_path)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert shown.rstrip("\n") == out.rstrip("\n")


@pytest.mark.asyncio
async def test_help_lists_every_binding(sample_path):
    from tui.screens.help import binding_rows

    app = load_browser(sample_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = static_text(app, "#help-text")
        for needle in ("/  ", "p  ", "c  ", "t  ", "s  ", "b / backspace", "q  ", "?  "):
            assert any(line.strip().startswith(needle.strip()) for line in text.splitlines())
        for _, keys, what in binding_rows():
            assert re.search(rf"^\s+{re.escape(keys)}\s+{re.escape(what)}$", text, re.M)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "MainScreen"
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_graphdef_tensor_index_agrees_with_its_title():
    """A GraphDef numbers no tensors: the browser numbers them by position (each node's
    outputs in node order), the same number in the title, the index line, the search and
    the tensors table. Oracle: the node order of the same graph as text (.pbtxt)."""
    from conftest import ROOT

    text = (ROOT / "samples" / "digits_frozen.pbtxt").read_text()
    names = re.findall(r'^node \{\n  name: "([^"]+)"', text, re.M)
    inputs = re.findall(r'^  input: "([^"]+)"', text, re.M)
    # Every node has one output here (nothing reads a port other than 0), so tensor
    # `name:0` is at the position of its node.
    assert names and not any(re.search(r":[1-9]\d*$", i) for i in inputs)
    conv = names.index("conv1/Conv2D")
    want = names.index("conv1/kernel/read")
    app = load_browser(ROOT / "samples" / "digits_frozen.pb")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto_node(pilot, conv)
        assert details_title(app) == f"node #{conv}  Conv2D"
        await pilot.press("enter", "down", "enter")  # the links, input 1, follow it
        await settle(pilot)
        assert details_title(app).startswith(f"tensor #{want} ")
        assert details_title(app).endswith("conv1/kernel/read:0")
        assert details_facts(app)["index"] == f"{want} (position in the graph)"
        await pilot.press("slash", *"kernel/read")
        await settle(pilot)
        rows = [r for r in option_texts(app, "#search-results") if "conv1/kernel/read:0" in r]
        assert len(rows) == 1 and re.search(rf"^tensor\s+#{want}\s", rows[0]), rows
        await pilot.press("escape", "t")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        row = next(table.get_row_at(i) for i in range(table.row_count)
                   if table.get_row_at(i)[1] == "conv1/kernel/read:0")
        assert row[0] == want
