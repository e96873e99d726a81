"""The blog: accounts, posts and comments, as plain service functions."""
