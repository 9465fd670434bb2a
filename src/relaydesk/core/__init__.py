"""Pure-Python domain rules: no Django import here, plain data in and out."""
