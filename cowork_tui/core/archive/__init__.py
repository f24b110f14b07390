"""The session archive: SQLite written as sessions run, searched for years, recovered after a
crash; item statistics and Markdown reports from it."""
