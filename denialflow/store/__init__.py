"""Database reads and writes that more than one use case needs."""
