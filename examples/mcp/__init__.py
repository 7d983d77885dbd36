"""MCP example: a tool server made of runtree nodes, and a client that uses its tools."""
