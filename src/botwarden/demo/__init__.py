"""The bundled demo origin: a small in-memory shop that simulated traffic can hit."""
