"""The JSON-RPC envelope and the subset of app-server v2 types analytics reads."""
