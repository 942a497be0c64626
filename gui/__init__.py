"""Descent Lab presentation layer: the Qt window, its views, and the headless command line."""
