"""Photos: find the image files in the trees given and decode them upright."""
