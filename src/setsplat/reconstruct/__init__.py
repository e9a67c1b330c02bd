"""Reconstruction: camera poses (SfM, imports) and the splat scene."""
