"""Faces: detect the faces in a decoded photo and align each into a chip."""
