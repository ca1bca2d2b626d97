"""Parsers of the export formats and the IR facts they are checked against.

The oracle side (`ir_edges`, `numpy_stats`) reads the IR directly and never goes
through modelkit.export, so a renderer that drops or invents an edge, a node or a
figure disagrees with it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
from typer.testing import CliRunner

from modelkit.ir import Graph, Value


def run_export(*args) -> object:
    """`modelkit export ARGS` in this process; the result has exit_code, stdout, stderr."""
    from modelkit.cli.main import _register, app

    _register("export")
    return CliRunner().invoke(app, ["export", *map(str, args)])


# -- the IR ---------------------------------------------------------------------------

def ir_edges(graph: Graph) -> Counter:
    """Every edge of the IR: (producer position or "input", consumer position or
    "output", tensor name), once per input position that reads it."""
    pos = {id(n): i for i, n in enumerate(graph.nodes)}
    gin = {id(v) for v in graph.inputs}
    out: Counter = Counter()

    def source(v: Value):
        if v.producer is not None and id(v.producer) in pos:
            return pos[id(v.producer)]
        return "input" if id(v) in gin else None

    for ci, n in enumerate(graph.nodes):
        for v in n.inputs:
            if v is not None and source(v) is not None:
                out[(source(v), ci, v.name)] += 1
    for v in graph.outputs:
        if source(v) is not None:
            out[(source(v), "output", v.name)] += 1
    return out


def numpy_stats(v: Value) -> dict:
    """min, max, mean, std of a constant's stored values, and of its real values
    (scale * (q - zero_point), per channel along the quantized axis) when quantized."""
    a = np.asarray(v.data.numpy())
    out = {"min": float(a.min()), "max": float(a.max()),
           "mean": float(a.astype(np.float64).mean()), "std": float(a.astype(np.float64).std())}
    q = v.quant
    if q is not None and a.dtype.kind in "iu":
        scale = np.asarray(q.scale, dtype=np.float64)
        zp = np.asarray(q.zero_point, dtype=np.float64)
        if scale.size > 1:
            shape = [1] * a.ndim
            shape[q.axis] = scale.size
            scale, zp = scale.reshape(shape), zp.reshape(shape)
        real = (scale * (a.astype(np.float64) - zp)).astype(np.float32).astype(np.float64)
        out["real"] = {"min": float(real.min()), "max": float(real.max()),
                       "mean": float(real.mean()), "std": float(real.std())}
    return out


# -- SVG and HTML ---------------------------------------------------------------------

def svg_elements(root: ET.Element) -> tuple[list, list, list]:
    """(node elements as (node, op, folded), box elements, edge paths) of parsed SVG."""
    nodes, boxes, paths = [], [], []
    for el in root.iter():
        if el.get("data-node") is not None:
            nodes.append((int(el.get("data-node")), el.get("data-op"),
                          "folded" in (el.get("class") or "")))
        if el.get("data-box") is not None:
            boxes.append(el)
        if el.get("data-from") is not None:
            paths.append(el)
    return nodes, boxes, paths


def html_parts(html: str) -> list[ET.Element]:
    """Every part's drawing in a page: the inline first one, then the kept ones."""
    first = re.search(r'<div id="mk-view"[^>]*>(<svg.*?</svg>)</div>', html, re.S).group(1)
    parts = [ET.fromstring(first)]
    for body in re.findall(r'<script type="text/x-mk-part" id="mk-g\d+p\d+">(.*?)</script>',
                           html, re.S):
        parts.append(ET.fromstring(f"<svg>{body}</svg>"))
    return parts


def html_data(html: str) -> dict:
    text = re.search(r'<script type="application/json" id="mk-data">(.*?)</script>',
                     html, re.S).group(1)
    return json.loads(text)


NETWORK = re.compile(
    r"""(?:\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import|\bfetch\s*\(|XMLHttpRequest|WebSocket"""
    r"""|EventSource|sendBeacon|importScripts|navigator\.serviceWorker""", re.I)


# -- DOT ------------------------------------------------------------------------------

_DOT_STRING = r'"((?:[^"\\]|\\.)*)"'
DOT_NODE = re.compile(r"^\s*(g\d+_n\d+) \[label=" + _DOT_STRING + r".*?, op=" + _DOT_STRING
                      + r", index=(\d+)", re.M)
DOT_EDGE = re.compile(r"^\s*(g\d+_(?:n|in|out)\d+) -> (g\d+_(?:n|in|out)\d+) \[label="
                      + _DOT_STRING + r", tensor=" + _DOT_STRING + r"\];", re.M)


def dot_unquote(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s)
