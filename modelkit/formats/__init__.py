"""Format adapters: the only code that knows a file layout."""
