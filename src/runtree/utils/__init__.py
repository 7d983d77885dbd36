"""Import paths railtracks code uses (``runtree.utils.config``); aliases only."""
