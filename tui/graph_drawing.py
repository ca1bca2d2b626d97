"""The layered graph layout drawn with box characters, one screen row at a time.

Nothing here imports Textual. The geometry (boxes, routes, labels in character cells)
comes from modelkit.layout; this module only turns it into characters and roles:
`Layout.render_row` gives the characters of one screen row, so a view draws only what
is visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelkit.layout import graph as geometry
from modelkit.layout.graph import HEAD_DOWN, HEAD_UP, D, L, R, U, clip

# Box-drawing characters by which of up/down/left/right an edge cell connects.
LINE_CHARS = {
    U | D: "│", L | R: "─", D | R: "┌", D | L: "┐", U | R: "└", U | L: "┘",
    U | D | R: "├", U | D | L: "┤", L | R | D: "┬", L | R | U: "┴", U | D | L | R: "┼",
    U: "│", D: "│", L: "─", R: "─",
}
ARROW_DOWN, ARROW_UP = "▼", "▲"
ARROWS = {HEAD_DOWN: ARROW_DOWN, HEAD_UP: ARROW_UP}
LIGHT = "┌┐└┘─│"
HEAVY = "┏┓┗┛━┃"


@dataclass
class Decoration:
    """Marks drawn into a box's border: at the top the diff's tag then the findings, at
    the bottom the per-layer error."""

    top: str = ""
    top_role: str = ""
    bottom: str = ""
    bottom_role: str = ""
    tag: str = ""
    tag_role: str = ""


class Layout(geometry.Layout):
    """A layout whose rows are drawn on demand by `render_row`."""

    def box_line(self, vid: int, row: int, selected: bool,
                 deco: Decoration | None) -> list[tuple[str, str]]:
        """Row `row` of box `vid` as (text, role) pieces, borders included."""
        b = self.boxes[vid]
        vx = self.structure.vertex(vid)
        tl, tr, bl, br, hz, vt = HEAVY if selected else LIGHT
        frame = "sel" if selected else ("io" if vx.kind != "node" else "box")
        inner = b.w - 2
        if row == 0 or row == b.h - 1:
            lefts: list[tuple[str, str]] = []
            right_text = ""
            if row == 0:
                if deco is not None and deco.tag:
                    lefts.append((deco.tag, deco.tag_role))
                if deco is not None and deco.top:
                    lefts.append((deco.top, deco.top_role))
                if b.hidden_in:
                    right_text = f"+{b.hidden_in} in"
            else:
                if deco is not None and deco.bottom:
                    lefts.append((deco.bottom, deco.bottom_role))
                if b.hidden_out:
                    right_text = f"+{b.hidden_out} out"
            pieces = [(tl if row == 0 else bl) + hz, frame]
            used = 1
            out = [pieces]
            for left_text, left_role in lefts:
                if len(out) > 1 and inner - used < 3:
                    break
                text = clip(f" {left_text} ", inner - used)
                out.append([text, left_role or frame])
                used += len(text)
            fill = inner - used - (len(right_text) + 2 if right_text else 0)
            if right_text and fill < 1:
                right_text, fill = "", inner - used
            out.append([hz * max(fill, 0), frame])
            if right_text:
                out.append([f" {right_text} ", "muted"])
            out.append([tr if row == 0 else br, frame])
            return [(t, r) for t, r in out if t]
        text_row = row - 1
        if text_row == 0:
            body, role = vx.title, "title"
        elif text_row - 1 < len(vx.lines):
            body = vx.lines[text_row - 1]
            role = "name" if text_row == 1 and vx.kind == "node" else "muted"
        else:
            body, role = "", "muted"
        pad = inner - 2 - len(body)
        return [(vt + " ", frame), (body, role), (" " * pad + " " + vt, frame)]

    def render_row(self, y: int, x0: int, width: int, selected: int | None = None,
                   decorations: dict[int, Decoration] | None = None,
                   lit: set[int] | None = None) -> list[tuple[str, str]]:
        """Cells x0 .. x0+width of row `y` as (text, role) runs.

        Args:
            y: the row.
            x0: first column.
            width: number of columns.
            selected: the selected box (drawn with heavy lines).
            decorations: marks per box.
            lit: edges (indices into the structure's edges) drawn highlighted.

        Roles: "" (blank), "edge", "edge-lit", "label", "label-lit", "box", "io", "sel",
        "title", "name", "muted", and whatever roles the decorations carry.
        """
        chars = [" "] * width
        roles = [""] * width
        x1 = x0 + width
        lit = lit or set()
        for x, cell in self.cells.get(y, {}).items():
            if x0 <= x < x1:
                bits, edge, head = cell
                chars[x - x0] = ARROWS.get(head) or LINE_CHARS.get(bits, " ")
                roles[x - x0] = "edge-lit" if edge in lit else "edge"
        for x, text, edge in self.labels.get(y, ()):
            role = "label-lit" if edge in lit else "label"
            for i, ch in enumerate(text):
                if x0 <= x + i < x1:
                    chars[x + i - x0] = ch
                    roles[x + i - x0] = role
        for vid in self.row_boxes.get(y, ()):
            b = self.boxes[vid]
            if b.right <= x0 or b.x >= x1:
                continue
            x = b.x
            deco = decorations.get(vid) if decorations else None
            for text, role in self.box_line(vid, y - b.y, vid == selected, deco):
                for ch in text:
                    if x0 <= x < x1:
                        chars[x - x0] = ch
                        roles[x - x0] = role
                    x += 1
        runs: list[tuple[str, str]] = []
        start = 0
        for i in range(1, width + 1):
            if i == width or roles[i] != roles[start]:
                runs.append(("".join(chars[start:i]), roles[start]))
                start = i
        return runs

    def text(self, selected: int | None = None,
             decorations: dict[int, Decoration] | None = None) -> str:
        """The whole drawing as plain text (trailing blanks stripped)."""
        rows = []
        for y in range(self.height):
            runs = self.render_row(y, 0, self.width, selected, decorations)
            rows.append("".join(t for t, _ in runs).rstrip())
        return "\n".join(rows).rstrip("\n") + "\n"


class GraphStructure(geometry.GraphStructure):
    """The layout's structure whose `layout` returns a drawable `Layout`."""

    layout_type = Layout
