"""The soak and fault harness (issue 15): `python -m soak`, `make soak`."""
