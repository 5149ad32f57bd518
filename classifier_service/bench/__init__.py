"""Benchmarks of the worker: archive replay and Kafka → store → Kafka (``alerce-classifier bench``)."""
