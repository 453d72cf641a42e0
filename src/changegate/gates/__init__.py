"""Gates: one module or package per gate, each `run(change, config) -> GateResult`.

A gate never prints and never reads CI environment variables: the context builds the change,
the gate decides, a renderer presents.
"""
