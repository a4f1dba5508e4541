"""Figure functions, one module per analysis (each function takes results + ``ax``)."""
