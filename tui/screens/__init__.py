"""Screens of the model browser."""
