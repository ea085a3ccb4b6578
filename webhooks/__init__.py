"""Webhooks: endpoints, signed deliveries of the changes feed (Standard Webhooks), retries
and the dead-letter list."""
