"""Two-stage hand pose (HandSegNet -> crop -> PoseNet), CPM/hand3d weights, Table IV.

Not implemented yet: the subject of issue #5. Importing this package gives nothing else for now.
"""
