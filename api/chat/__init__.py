"""Grounded chat: retrieve → number passages → prompt → stream → resolve citations → persist."""
