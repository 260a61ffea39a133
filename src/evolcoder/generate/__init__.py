"""Sampling solutions from a model into a samples file."""
