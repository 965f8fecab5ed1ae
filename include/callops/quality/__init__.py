"""Publish gates: Great Expectations suites run on the candidate marts."""
