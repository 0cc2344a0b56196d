"""Engines that run the mesh program: recording mocks (plan, tests) and moto (local deploy)."""
