"""Widgets of the model browser."""
