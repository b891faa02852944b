"""Shared pieces of the Autoencoder Studio pages: figures, image grids, widgets and the sidebar.

Pages import from here; nothing in this package imports torch (a test checks it), so figures and
grids are built from the plain numpy arrays and dicts that aecore hands out.
"""
