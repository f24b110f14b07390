"""The domain and the engine. Imports neither Textual nor Rich (a test checks it)."""
