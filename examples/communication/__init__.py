"""Communication patterns between nodes (seed 003), run on runtree: see ``main.py``."""
