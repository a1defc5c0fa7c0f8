"""Forward-mode Taylor jets: fields with their input derivatives, propagated exactly (ground floor)."""
