"""Import paths railtracks code uses (``runtree.orchestration.flow``); aliases only."""
