"""Passwords, tokens and the request's current user."""
