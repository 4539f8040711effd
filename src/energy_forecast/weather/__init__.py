"""Weather adapters: external temperature providers behind one interface, and the fallback chain."""
