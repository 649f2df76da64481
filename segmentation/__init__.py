"""ICNet, SegNet-basic and hourglass body-part segmentation on SURREAL (thesis Tables 1-6).

Not implemented yet: the subject of issue #6. Importing this package gives nothing else for now.
"""
