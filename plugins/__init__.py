"""Built-in plugins. Each registers through the ``switchboard`` entry-point group."""
