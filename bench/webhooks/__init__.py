"""Webhook deliveries: throughput to a local receiver with signing, and the retry schedule
under a receiver that fails half the time (``python -m bench.webhooks``)."""
