"""Pure values and contracts shared by every layer."""
