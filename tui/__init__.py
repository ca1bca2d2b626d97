"""The terminal model browser (`modelkit browse`), a Textual app.

Import `tui.app.ModelBrowser`; importing this package loads nothing else.
"""
