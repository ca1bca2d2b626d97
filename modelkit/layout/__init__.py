"""The layered graph layout shared by the terminal browser and the exporters.

Geometry only (boxes, edge routes and labels in character cells); nothing here draws.
"""

from modelkit.layout.graph import (
    HEAD_DOWN,
    HEAD_UP,
    MARGIN,
    Box,
    Edge,
    GraphStructure,
    Layout,
    Route,
    Vertex,
    short_name,
)

__all__ = ["HEAD_DOWN", "HEAD_UP", "MARGIN", "Box", "Edge", "GraphStructure", "Layout",
           "Route", "Vertex", "short_name"]
