"""The local web host: serves frontend/ and /config.json from the last deploy's outputs."""
