"""runtree benchmarks: ``make bench`` (``python -m bench``). Ratios against bare asyncio."""
