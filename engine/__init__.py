"""Descent Lab engine: surfaces, optimizers, schedulers, data sets and trainers (no Qt)."""
