"""Stacked hourglass and the CV701 block-variant study (Table 1) on MPII.

Not implemented yet: the model, presets, converters and the Table 1 reproduction are the
subject of issues #3 and #4. Importing this package gives nothing else for now.
"""
