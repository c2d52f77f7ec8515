"""Imagehost's benchmark: `python -m bench` (see bench/README.md).

It runs `imagehost stack` and, beside it, the ceilings each figure is compared with: the same
Nginx configuration proxying to an app that discards bodies (`ceiling_app`), and Nginx serving
the same image files as plain static files.
"""
