"""Model definitions that need no download: synthetic:<preset> decoders with random weights."""
