"""The actor runtime and the room actor built on it."""
