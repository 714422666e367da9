"""The embedded local stack: template.yaml deployed into moto, for the demo, the tests and benchmarks.

Nothing in here runs on AWS; it needs the ``local`` extra (moto, PyYAML).
"""
